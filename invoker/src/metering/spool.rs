//! The spool: usage batches on the invoker's disk until the controller has
//! acknowledged them. One JSON file per batch, `batch-<boot>-<seq>.json`,
//! written to a temporary name, synced and renamed, so a file is either
//! whole or absent; names sort by boot, then by `seq` within a boot, which
//! is the order the controller must see them in.

use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use flint_api::{PricePlan, UsageBatch};

const PREFIX: &str = "batch-";
const SUFFIX: &str = ".json";
const PARTIAL: &str = ".partial";
const PLAN_FILE: &str = "plan.json";

/// The spool directory.
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Opens (creates) the spool in `dir` and removes half-written files.
    pub fn open(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)?.flatten() {
            if entry.file_name().to_string_lossy().ends_with(PARTIAL) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(Self { dir: dir.to_owned() })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a batch durably; returns its file.
    pub fn write(&self, batch: &UsageBatch) -> io::Result<PathBuf> {
        let name = format!("{PREFIX}{:016x}-{:012}{SUFFIX}", batch.boot, batch.seq);
        let bytes = serde_json::to_vec(batch).map_err(io::Error::other)?;
        self.write_file(&name, &bytes)
    }

    fn write_file(&self, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
        let path = self.dir.join(name);
        let partial = self.dir.join(format!("{name}{PARTIAL}"));
        let mut file = File::create(&partial)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        std::fs::rename(&partial, &path)?;
        // The rename is durable once the directory is synced.
        File::open(&self.dir)?.sync_all()?;
        Ok(path)
    }

    /// The spooled batches, in the order to ship them.
    pub fn pending(&self) -> io::Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)?
            .flatten()
            .filter(|entry| {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                name.starts_with(PREFIX) && name.ends_with(SUFFIX)
            })
            .map(|entry| entry.path())
            .collect();
        files.sort();
        Ok(files)
    }

    /// Reads a spooled batch.
    pub fn read(path: &Path) -> io::Result<UsageBatch> {
        let bytes = std::fs::read(path)?;
        serde_json::from_slice(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// Deletes an acknowledged batch.
    pub fn remove(path: &Path) -> io::Result<()> {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// Remembers the price plan, so a restart without the controller rounds
    /// with the last plan it knew.
    pub fn save_plan(&self, plan: &PricePlan) -> io::Result<()> {
        let bytes = serde_json::to_vec(plan).map_err(io::Error::other)?;
        self.write_file(PLAN_FILE, &bytes).map(drop)
    }

    /// The remembered price plan, if any.
    pub fn load_plan(&self) -> Option<PricePlan> {
        let bytes = std::fs::read(self.dir.join(PLAN_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(boot: u64, seq: u64) -> UsageBatch {
        UsageBatch {
            id: UsageBatch::make_id("i", boot, seq),
            invoker: "i".into(),
            boot,
            seq,
            aggregates: vec![],
        }
    }

    #[test]
    fn batches_are_listed_in_shipping_order_and_partial_files_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        for (boot, seq) in [(2, 10), (1, 2), (2, 9), (1, 11)] {
            spool.write(&batch(boot, seq)).unwrap();
        }
        std::fs::write(dir.path().join("batch-x.json.partial"), b"{").unwrap();
        spool.save_plan(&PricePlan::default()).unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        let order: Vec<(u64, u64)> = spool
            .pending()
            .unwrap()
            .iter()
            .map(|p| {
                let b = Spool::read(p).unwrap();
                (b.boot, b.seq)
            })
            .collect();
        assert_eq!(order, vec![(1, 2), (1, 11), (2, 9), (2, 10)]);
        assert_eq!(spool.load_plan(), Some(PricePlan::default()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 5);
        Spool::remove(&spool.pending().unwrap()[0]).unwrap();
        assert_eq!(spool.pending().unwrap().len(), 3);
    }
}
