use clap::Parser;

// Many small, short-lived allocations per SIP message and call: mimalloc handles them with less
// contention between threads than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A panic is logged like everything else (one JSON line with JSON logs), with where it
    // happened; supervisors then log what the task was handling and restart it.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if tracing::dispatcher::has_been_set() {
            let location = info.location().map(|l| l.to_string()).unwrap_or_default();
            let message = switchboard_telephony::driver::panic_message(info.payload());
            tracing::error!(panic = %message, %location, "panic");
        } else {
            default_hook(info);
        }
    }));
    let cli = switchboard::cli::Cli::parse();
    match switchboard::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
