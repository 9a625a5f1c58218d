//! `wg`: configures WireGuard interfaces, with the grammar, output and exit
//! codes of wireguard-tools' wg(8).

mod config_file;
mod ipc;
mod keys;
mod set_args;
mod show;
mod showconf;
mod sync;
mod terminal;

fn main() {
    // Filled in by the CLI owner: dispatch to the subcommands.
    std::process::exit(1);
}
