//! `cargo run -p journey-plugin-build`: builds the channel-plugin components and copies them
//! to `plugins/dist/<name>.wasm`, where the examples' `journey.toml` files expect them (for
//! `journey simulate --plugins` and `journey test --plugins`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let built = match journey_plugin_build::components() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match journey_plugin_build::install_dist(built) {
        Ok(dist) => {
            for (name, _) in built.iter() {
                println!("{}", dist.join(format!("{name}.wasm")).display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: copying the components to {}: {e}",
                journey_plugin_build::dist_dir().display()
            );
            ExitCode::FAILURE
        }
    }
}
