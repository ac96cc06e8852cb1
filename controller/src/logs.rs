//! Guest logs: the last lines of each function, in memory, shipped here by
//! the invokers and read by `flint logs`.
//!
//! Logs are for watching a function work, not an archive: they are bounded
//! per function and do not survive a controller restart.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use flint_api::{LogEntry, LogLine, LogPage, Name};
use tokio::sync::watch;

/// Lines kept per function; older lines are dropped.
pub const LINES_PER_FUNCTION: usize = 1000;
/// Longest stored line, in bytes; longer lines are cut.
pub const MAX_LINE_BYTES: usize = 4096;

/// The log store.
pub struct Logs {
    functions: Mutex<HashMap<(Name, Name), FunctionLog>>,
    /// Bumped on every append, so followers wake up.
    appended: watch::Sender<u64>,
}

#[derive(Default)]
struct FunctionLog {
    next_seq: u64,
    lines: VecDeque<LogLine>,
}

impl Default for Logs {
    fn default() -> Self {
        Self { functions: Mutex::default(), appended: watch::channel(0).0 }
    }
}

impl Logs {
    /// Appends lines shipped by an invoker.
    pub fn append(&self, entries: Vec<LogEntry>) {
        if entries.is_empty() {
            return;
        }
        let mut functions = self.functions.lock().unwrap_or_else(PoisonError::into_inner);
        for entry in entries {
            let log = functions.entry((entry.namespace, entry.function)).or_default();
            let mut line = entry.line;
            if line.len() > MAX_LINE_BYTES {
                let mut cut = MAX_LINE_BYTES;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
                line.truncate(cut);
                line.push_str(" [cut]");
            }
            log.lines.push_back(LogLine {
                seq: log.next_seq,
                time: entry.time,
                stream: entry.stream,
                line,
            });
            log.next_seq += 1;
            if log.lines.len() > LINES_PER_FUNCTION {
                log.lines.pop_front();
            }
        }
        drop(functions);
        self.appended.send_modify(|n| *n += 1);
    }

    /// The lines of a function from sequence number `since` on (or from the
    /// oldest kept line, if `since` is older).
    pub fn page(&self, ns: &Name, name: &Name, since: u64) -> LogPage {
        let functions = self.functions.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(log) = functions.get(&(ns.clone(), name.clone())) else {
            return LogPage { next: since, lines: Vec::new() };
        };
        let lines: Vec<LogLine> = log.lines.iter().filter(|l| l.seq >= since).cloned().collect();
        let next = lines.last().map_or(since.min(log.next_seq), |l| l.seq + 1);
        LogPage { next, lines }
    }

    /// A receiver that changes whenever lines are appended.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Forgets a deleted function's lines.
    pub fn remove(&self, ns: &Name, name: &Name) {
        self.functions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(ns.clone(), name.clone()));
    }
}

#[cfg(test)]
mod tests {
    use flint_api::{Stream, Timestamp};

    use super::*;

    fn entry(line: &str) -> LogEntry {
        LogEntry {
            namespace: Name::default_namespace(),
            function: "f".parse().unwrap(),
            time: Timestamp::UNIX_EPOCH,
            stream: Stream::Stdout,
            line: line.into(),
        }
    }

    #[test]
    fn pages_and_bounds() {
        let logs = Logs::default();
        let (ns, f) = (Name::default_namespace(), "f".parse().unwrap());
        assert_eq!(logs.page(&ns, &f, 0), LogPage::default());
        logs.append((0..LINES_PER_FUNCTION + 5).map(|i| entry(&format!("line {i}"))).collect());
        let page = logs.page(&ns, &f, 0);
        assert_eq!(page.lines.len(), LINES_PER_FUNCTION);
        assert_eq!(page.lines[0].line, "line 5");
        assert_eq!(page.next, LINES_PER_FUNCTION as u64 + 5);
        assert!(logs.page(&ns, &f, page.next).lines.is_empty());
        assert_eq!(logs.page(&ns, &f, page.next).next, page.next);

        logs.append(vec![entry(&"é".repeat(MAX_LINE_BYTES))]);
        let long = &logs.page(&ns, &f, page.next).lines[0].line;
        assert!(long.len() <= MAX_LINE_BYTES + 6 && long.ends_with(" [cut]"));
    }
}
