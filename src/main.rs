fn main() {
    eprintln!("natsd: not implemented yet");
    std::process::exit(1);
}
