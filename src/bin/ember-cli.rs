//! `ember-cli`: the command-line client. All logic lives in `ember::cli`.

fn main() {
    std::process::exit(ember::cli::main());
}
