//! Transfer progress on standard error: a bar per file and one for the whole batch on a terminal,
//! plain lines (start, every tenth, end) otherwise, so logs and CI output stay readable;
//! nothing with `--quiet`.
//! Results go to standard output through [`Reporter::result`], never through the bars.

use std::io::IsTerminal;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::{human_size, print, printable};

/// What the command line asked to be told.
#[derive(Debug, Clone, Copy)]
pub struct Verbosity {
    /// Results as one JSON document at the end, not as lines.
    pub json: bool,
    /// No progress at all: results, warnings and errors only.
    pub quiet: bool,
}

/// The batch's progress display.
#[derive(Debug)]
pub struct Reporter {
    display: Display,
    files: usize,
    json: bool,
    /// What the closing line says the run did with the bytes: `sent`, `received`.
    verb: &'static str,
    started: Instant,
    counts: Mutex<Counts>,
    /// Whether any file started: a run that moved nothing has nothing to sum up.
    any_started: std::sync::atomic::AtomicBool,
}

/// What the bars show and what the run moved.
#[derive(Debug, Default)]
struct Counts {
    /// Acknowledged bytes of every file, summed: the total bar's position.
    acknowledged: u64,
    /// Each file's acknowledged bytes (its position in the total).
    positions: Vec<u64>,
    /// Each file's bytes moved by this run: every byte acknowledged while this run watched,
    /// counted again after a restart from 0 (not what a resumed upload had before, nor a
    /// skipped file). The closing line sums them; `upload` reports each.
    moved: Vec<u64>,
}

#[derive(Debug)]
enum Display {
    Bars {
        multi: MultiProgress,
        total: ProgressBar,
    },
    Lines,
    Silent,
}

impl Reporter {
    /// Bars when standard error is a terminal, lines otherwise, nothing when quiet.
    pub fn new(
        files: usize,
        total_bytes: u64,
        verb: &'static str,
        verbosity: Verbosity,
    ) -> Arc<Self> {
        let display = if verbosity.quiet {
            Display::Silent
        } else if std::io::stderr().is_terminal() {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            crate::logging::above(&multi);
            // One file needs no total beside its own bar: the total is kept, but not drawn.
            let total = match files {
                1 => ProgressBar::hidden(),
                _ => multi.add(ProgressBar::new(total_bytes)),
            };
            total.set_style(style("{prefix:>12} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}"));
            total.set_prefix("total");
            total.set_message(format!("0/{files} files"));
            Display::Bars { multi, total }
        } else {
            Display::Lines
        };
        Arc::new(Self {
            display,
            files,
            json: verbosity.json,
            verb,
            started: Instant::now(),
            counts: Mutex::new(Counts {
                acknowledged: 0,
                positions: vec![0; files],
                moved: vec![0; files],
            }),
            any_started: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A file starts, or resumes with `done` bytes already acknowledged: its own bar or line.
    pub fn start(self: &Arc<Self>, index: usize, name: &str, size: u64, done: u64) -> FileProgress {
        self.any_started
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let label = format!("[{}/{}] {}", index + 1, self.files, printable(name));
        let bar = match &self.display {
            Display::Bars { multi, total } => {
                let bar = match self.files {
                    1 => multi.add(ProgressBar::new(size)),
                    _ => multi.insert_before(total, ProgressBar::new(size)),
                };
                bar.set_style(style("{prefix:>12} [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} ETA {eta}"));
                bar.set_prefix(shorten(&label, 40));
                bar.set_position(done);
                bar.reset_eta();
                Some(bar)
            }
            Display::Lines if done > 0 => {
                eprintln!(
                    "{label}: resuming at {} of {}",
                    human_size(done),
                    human_size(size)
                );
                None
            }
            Display::Lines => {
                eprintln!("{label}: started ({})", human_size(size));
                None
            }
            Display::Silent => None,
        };
        self.set_position(index, done);
        FileProgress {
            reporter: Arc::clone(self),
            index,
            bar,
            label,
            size,
            acknowledged: done,
            tenth: tenth_of(done, size),
        }
    }

    /// The bytes of file `index` the server acknowledged while this run watched (see
    /// [`Counts::moved`]): the number the closing line sums.
    pub fn moved(&self, index: usize) -> u64 {
        lock(&self.counts).moved.get(index).copied().unwrap_or(0)
    }

    /// A result line for standard output (standard error with `--json`), above the bars.
    pub fn result(&self, line: &str) {
        if self.json {
            return self.note(line);
        }
        let line = format!("{line}\n");
        match &self.display {
            Display::Bars { multi, .. } => multi.suspend(|| print(&line).ok()),
            Display::Lines | Display::Silent => print(&line).ok(),
        };
    }

    /// A note for standard error, printed above the bars.
    pub fn note(&self, line: &str) {
        match &self.display {
            Display::Bars { multi, .. } => multi.suspend(|| eprintln!("{line}")),
            Display::Lines | Display::Silent => eprintln!("{line}"),
        }
    }

    /// A file an earlier run uploaded: counted as done.
    pub fn skipped(&self, index: usize, bytes: u64) {
        self.set_position(index, bytes);
    }

    /// One more file is finished (or skipped).
    pub fn file_finished(&self, finished: usize) {
        if let Display::Bars { total, .. } = &self.display {
            total.set_message(format!("{finished}/{} files", self.files));
        }
    }

    /// Clears the bars and says what this run moved, and how fast.
    pub fn finish(&self) {
        let bytes: u64 = lock(&self.counts).moved.iter().sum();
        match &self.display {
            Display::Bars { total, .. } => total.finish_and_clear(),
            Display::Lines => {}
            Display::Silent => return,
        }
        if !self.any_started.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let seconds = self.started.elapsed().as_secs_f64().max(0.001);
        eprintln!(
            "{} {} in {:.1} s ({}/s)",
            self.verb,
            human_size(bytes),
            seconds,
            human_size((bytes as f64 / seconds) as u64)
        );
    }

    /// File `index` is at `position`; a byte past its last position is one this run moved.
    fn advance(&self, index: usize, position: u64) {
        self.place(index, position, true);
    }

    /// File `index` is at `position`, where an earlier run left it (a resume, a skipped file).
    fn set_position(&self, index: usize, position: u64) {
        self.place(index, position, false);
    }

    fn place(&self, index: usize, position: u64, moved_now: bool) {
        let mut counts = lock(&self.counts);
        let Some(slot) = counts.positions.get_mut(index) else {
            return;
        };
        let previous = std::mem::replace(slot, position);
        if moved_now {
            counts.moved[index] += position.saturating_sub(previous);
        }
        counts.acknowledged = (counts.acknowledged + position).saturating_sub(previous);
        if let Display::Bars { total, .. } = &self.display {
            total.set_position(counts.acknowledged);
        }
    }
}

/// One file's progress: fed from the SDK's `on_progress` (bytes acknowledged or written).
#[derive(Debug)]
pub struct FileProgress {
    reporter: Arc<Reporter>,
    index: usize,
    bar: Option<ProgressBar>,
    label: String,
    size: u64,
    acknowledged: u64,
    /// The last tenth reported as a line.
    tenth: u64,
}

impl FileProgress {
    pub fn update(&mut self, acknowledged: u64) {
        self.reporter.advance(self.index, acknowledged);
        if acknowledged < self.acknowledged {
            // Started over from an earlier byte: its tenths will be passed again.
            self.tenth = tenth_of(acknowledged, self.size);
        }
        self.acknowledged = acknowledged;
        match (&self.bar, &self.reporter.display) {
            (Some(bar), _) => bar.set_position(acknowledged),
            (None, Display::Lines) => {
                let tenth = tenth_of(acknowledged, self.size);
                if tenth > self.tenth {
                    self.tenth = tenth;
                    eprintln!(
                        "{}: {}% ({} of {})",
                        self.label,
                        tenth * 10,
                        human_size(acknowledged),
                        human_size(self.size)
                    );
                }
            }
            (None, _) => {}
        }
    }

    /// Removes the file's bar; its result is printed by the caller.
    pub fn end(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How many tenths of `size` are done (all of them for an empty file).
fn tenth_of(done: u64, size: u64) -> u64 {
    (u128::from(done) * 10)
        .checked_div(u128::from(size))
        .map_or(10, |tenth| tenth as u64)
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// At most `max` characters, keeping the end (where the file name is).
fn shorten(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_owned();
    }
    let tail: String = text.chars().skip(count - (max - 1)).collect();
    format!("…{tail}")
}
