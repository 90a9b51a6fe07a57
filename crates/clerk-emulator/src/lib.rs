//! keel-clerk-emulator
