//! `activator`: parse, call the library, print, map the error to its exit status.

fn main() -> std::process::ExitCode {
    activator_cli::main()
}
