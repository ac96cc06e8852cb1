//! One assigned partition: a bounded queue of fetched records and the
//! worker that runs them through the function.
//!
//! The worker runs up to `in_flight_per_partition` records at once (1 keeps
//! strict order) and moves the partition's commit position only over a
//! contiguous prefix of finished offsets, so a record is never committed
//! before every record before it was handled.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use rdkafka::Message;
use rdkafka::message::OwnedMessage;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Trigger;
use super::record::{self, Handled};

/// Records fetched but not started, beyond which the partition is paused.
/// Pausing makes librdkafka drop what it prefetched for the partition and
/// fetch it again on resume, so pausing must be rare: with a backlog, every
/// pause costs a fetch round trip, and at 2,048 the Kafka path ran at half
/// its speed (`tests/bench 5 kafka`).
const QUEUE_AHEAD: usize = 10_000;
/// Bytes of record keys and values queued, beyond which the partition is
/// paused too: large records are bounded by size, small ones by count.
const QUEUE_AHEAD_BYTES: usize = 16 << 20;

/// Records fetched and not started, and the bytes of their keys and values.
#[derive(Default)]
struct Queue {
    records: VecDeque<OwnedMessage>,
    bytes: usize,
}

fn size(record: &OwnedMessage) -> usize {
    record.payload().map_or(0, <[u8]>::len) + record.key().map_or(0, <[u8]>::len)
}

/// A partition's state, shared by the consumer thread and the worker.
pub struct Partition {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    queue: Mutex<Queue>,
    wake: Notify,
    /// Cancelled when the partition is revoked or the consumer stops: the
    /// worker finishes what is in flight and exits.
    pub stop: CancellationToken,
    /// Set while the consumer has paused fetching for this partition.
    pub paused: AtomicBool,
    /// The next offset to commit, if it moved since the last commit.
    commit: Mutex<Option<i64>>,
    finished: (Mutex<bool>, Condvar),
    high: usize,
    low: usize,
}

impl Partition {
    /// A partition whose worker runs `in_flight` records at once.
    pub fn new(topic: &str, partition: i32, in_flight: usize) -> Self {
        Self {
            topic: topic.to_owned(),
            partition,
            queue: Mutex::default(),
            wake: Notify::new(),
            stop: CancellationToken::new(),
            paused: AtomicBool::new(false),
            commit: Mutex::default(),
            finished: (Mutex::new(false), Condvar::new()),
            high: in_flight + QUEUE_AHEAD,
            // Resume at half: far enough from the pause to not flap.
            low: in_flight + QUEUE_AHEAD / 2,
        }
    }

    /// Queues a fetched record. Returns `true` when the queue is full and
    /// the partition should be paused.
    pub fn push(&self, record: OwnedMessage) -> bool {
        let full = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.bytes += size(&record);
            queue.records.push_back(record);
            queue.records.len() >= self.high || queue.bytes >= QUEUE_AHEAD_BYTES
        };
        self.wake.notify_one();
        full
    }

    /// The next record, and whether the queue is now low enough to resume.
    fn pop(&self) -> (Option<OwnedMessage>, bool) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let record = queue.records.pop_front();
        if let Some(record) = &record {
            queue.bytes -= size(record);
        }
        let low = queue.records.len() <= self.low && queue.bytes <= QUEUE_AHEAD_BYTES / 2;
        (record, low)
    }

    /// Takes the commit position if it moved.
    pub fn take_commit(&self) -> Option<i64> {
        self.commit.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Tells the worker to stop after what is in flight.
    pub fn shut(&self) {
        self.stop.cancel();
        self.wake.notify_one();
    }

    /// Blocks (a consumer thread) until the worker has exited, at most `limit`.
    pub fn wait_finished(&self, limit: Duration) -> bool {
        let (lock, condvar) = &self.finished;
        let guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = condvar
            .wait_timeout_while(guard, limit, |finished| !*finished)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }

    fn set_finished(&self) {
        let (lock, condvar) = &self.finished;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        condvar.notify_all();
    }
}

/// The worker of one partition. `resume` asks the consumer thread to resume
/// fetching once the queue has drained.
pub async fn work(
    trigger: Arc<Trigger>,
    partition: Arc<Partition>,
    resume: std::sync::mpsc::Sender<(String, i32)>,
) {
    let limit = trigger.spec.in_flight_per_partition as usize;
    let mut in_flight: JoinSet<(i64, Handled)> = JoinSet::new();
    // Offsets started, in order, and whether each is done.
    let mut started: BTreeMap<i64, bool> = BTreeMap::new();
    loop {
        while in_flight.len() < limit && !partition.stop.is_cancelled() {
            let (Some(record), low) = partition.pop() else { break };
            if low && partition.paused.swap(false, Ordering::AcqRel) {
                let _ = resume.send((partition.topic.clone(), partition.partition));
            }
            trigger.metrics.consumed.inc();
            let offset = record.offset();
            started.insert(offset, false);
            let (trigger, stop) = (Arc::clone(&trigger), partition.stop.clone());
            in_flight
                .spawn(async move { (offset, record::handle(&trigger, &record, &stop).await) });
        }
        if in_flight.is_empty() && partition.stop.is_cancelled() {
            break;
        }
        tokio::select! {
            joined = in_flight.join_next(), if !in_flight.is_empty() => {
                let Some(Ok((offset, handled))) = joined else { continue };
                if handled == Handled::Abandoned {
                    continue;
                }
                started.insert(offset, true);
                advance(&partition, &mut started);
            }
            () = partition.wake.notified() => {}
        }
    }
    partition.set_finished();
}

/// Moves the commit position over the finished prefix.
fn advance(partition: &Partition, started: &mut BTreeMap<i64, bool>) {
    let mut next = None;
    while let Some((&offset, &done)) = started.first_key_value() {
        if !done {
            break;
        }
        started.remove(&offset);
        next = Some(offset + 1);
    }
    if let Some(next) = next {
        *partition.commit.lock().unwrap_or_else(PoisonError::into_inner) = Some(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(offset: i64, bytes: usize) -> OwnedMessage {
        let timestamp = rdkafka::Timestamp::NotAvailable;
        OwnedMessage::new(Some(vec![b'x'; bytes]), None, "t".into(), timestamp, 0, offset, None)
    }

    #[test]
    fn the_queue_is_full_at_its_count_or_its_bytes_and_low_at_half() {
        let partition = Partition::new("t", 0, 1);
        for offset in 0..QUEUE_AHEAD as i64 {
            assert!(!partition.push(record(offset, 10)), "not full at {offset}");
        }
        assert!(partition.push(record(QUEUE_AHEAD as i64, 10)), "full at the count");
        let mut popped = 0;
        while let (Some(_), low) = partition.pop() {
            popped += 1;
            if low {
                break;
            }
        }
        assert_eq!(popped, QUEUE_AHEAD / 2, "low once half (and the in-flight limit) is left");

        let partition = Partition::new("t", 0, 1);
        assert!(!partition.push(record(0, QUEUE_AHEAD_BYTES / 2)));
        assert!(partition.push(record(1, QUEUE_AHEAD_BYTES / 2)), "full at the bytes");
        assert!(partition.pop().1, "half the bytes left: low");
    }

    #[test]
    fn commits_advance_only_over_a_finished_prefix() {
        let partition = Partition::new("t", 0, 4);
        let mut started: BTreeMap<i64, bool> = [(10, false), (11, true), (12, true)].into();
        advance(&partition, &mut started);
        assert_eq!(partition.take_commit(), None, "10 is not done: nothing moves");
        started.insert(10, true);
        advance(&partition, &mut started);
        assert_eq!(partition.take_commit(), Some(13));
        assert!(started.is_empty());
        assert_eq!(partition.take_commit(), None, "taken once");
    }
}
