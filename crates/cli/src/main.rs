//! The `idaudit` binary.

fn main() {
    let status = idaudit::run();
    std::process::exit(status.code());
}
