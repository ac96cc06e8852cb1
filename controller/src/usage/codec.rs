//! The binary form of ledger keys and values: [`flint_api::codec`], kept
//! there, free of sled, so `tests/fuzz` fuzzes it without building the
//! controller. This module keeps the controller's path to it and turns its
//! errors into the store's.

pub use flint_api::codec::{Key, Minutes, decode, encode, range_start, version_prefix};

use crate::store::Error;

impl From<flint_api::codec::Corrupt> for Error {
    fn from(corrupt: flint_api::codec::Corrupt) -> Self {
        Error::Corrupt(<serde_json::Error as serde::de::Error>::custom(corrupt))
    }
}
