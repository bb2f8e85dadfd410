#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    wharf::cli::main()
}
