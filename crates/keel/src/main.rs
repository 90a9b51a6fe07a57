use std::process::ExitCode;

fn main() -> ExitCode {
    keel::cli::main(keel::AppParts::builtin())
}
