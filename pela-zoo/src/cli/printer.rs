//! Everything the program prints goes through here: results to stdout, progress and errors
//! to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How much to print, and whether to draw bars.
pub struct Printer {
    quiet: bool,
    bars: bool,
    started: Instant,
}

impl Printer {
    pub fn new(quiet: bool, no_progress: bool) -> Self {
        Self {
            quiet,
            bars: !quiet && !no_progress,
            started: Instant::now(),
        }
    }

    /// A result line (stdout).
    pub fn result(&self, text: impl std::fmt::Display) {
        println!("{text}");
    }

    /// A status line (stderr), unless quiet.
    pub fn status(&self, text: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }

    /// The closing line of a job, with the time it took.
    pub fn finished(&self, what: impl std::fmt::Display) {
        self.status(format!(
            "{what} in {:.1} s",
            self.started.elapsed().as_secs_f64()
        ));
    }

    /// `error: <what was being done>: <why>`: the whole chain on one line.
    pub fn error(&self, error: &anyhow::Error) {
        let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
        eprintln!("error: {}", chain.join(": "));
    }

    /// A bar of `len` steps with an ETA, or a hidden one.
    pub fn bar(&self, len: u64, what: &str) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some(len),
            if self.bars {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix:>12} [{bar:32}] {pos}/{len} {msg} (ETA {eta})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(250));
        bar
    }

    pub fn quiet(&self) -> bool {
        self.quiet
    }

    /// Whether progress bars are drawn.
    pub fn bars(&self) -> bool {
        self.bars
    }

    /// Status lines that can go to another thread.
    pub fn clone_lines(&self) -> Lines {
        Lines { quiet: self.quiet }
    }
}

/// Draws the factorisation of a model: one step a layer.
pub struct ConversionBar(pub ProgressBar);

impl pela::Progress for ConversionBar {
    fn on_layer_factorised(&self, path: &str, rank: usize, _seconds: f64) {
        self.0.set_message(format!("{path} (rank {rank})"));
        self.0.inc(1);
    }
}

/// Status lines from another thread (a training run's epoch summaries).
pub struct Lines {
    quiet: bool,
}

impl Lines {
    /// A status line (stderr), unless quiet.
    pub fn status(&self, text: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }
}
