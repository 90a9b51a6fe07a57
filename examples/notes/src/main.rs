use std::process::ExitCode;

fn main() -> ExitCode {
    keel::cli::main(keel_example_notes::app())
}
