//! The `authctl` binary: everything lives in the library; this only hands over the process's exit code.

fn main() {
    std::process::exit(authctl::run());
}
