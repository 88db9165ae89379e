//! The approvald binary: everything happens in the library.

fn main() -> std::process::ExitCode {
    approvald::run()
}
