use clap::Parser;

// Many small, short-lived allocations per SIP message and call: mimalloc handles them with less
// contention between threads than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
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
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(switchboard::cli::run(cli)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    // Work still on a blocking thread when the command is done (a model loading, a prompt being
    // synthesised for a cache nobody will read) is abandoned rather than waited for: a stop
    // asked for by SIGTERM must not take as long as a model load on a busy machine.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit(2) has no memory-safety preconditions. It ends the process without running
    // exit handlers: the native speech libraries' global destructors would otherwise run under
    // a model load still in progress on an abandoned thread and crash the exit. Everything the
    // command must leave behind is already done (database closed, output flushed).
    unsafe { libc::_exit(code) }
}
