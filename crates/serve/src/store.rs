//! The key store: evaluation keys registered by clients, kept in a directory that survives
//! restarts and that several replicas can share (a volume), and a cache of the keys loaded
//! in memory, bounded in bytes, least recently used evicted and reloaded on demand.
//!
//! On disk, key `ID` is two files under `keys/`: `ID.key`, the bytes the client uploaded
//! (the versioned wire format of its kind), and `ID.json`, its [`KeyRecord`]. Both are
//! written to a temporary name and renamed, the record last, so a replica sees a key whole
//! or not at all. A key is read back with the same checks as an upload: the directory is
//! not trusted more than the network.
//!
//! Only a SHA-256 hash of each token is stored, so the directory grants no access.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shroud_lwe::bootstrap::ServerKey;
use shroud_nn::datasets::read_at_most;
use shroud_nn::training::encrypted::{default_params, Server as TrainingServer};

use crate::api::{KeyKind, Registration, TrainingSpec};
use crate::ServeError;

/// Largest record file read back (a record is a few hundred bytes).
const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// What the store knows of a key besides its bytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The key's id, 32 lowercase hexadecimal digits.
    pub id: String,
    /// The client that registered it, whose quota it counts against.
    pub client: String,
    /// What the key serves.
    pub kind: KeyKind,
    /// Its parameter set: a `shroud_lwe` preset name for an LWE key, `ckks-n{N}-l{L}` for
    /// a training key.
    pub params: String,
    /// Size of the uploaded key in bytes, also the most read back from disk.
    pub bytes: u64,
    /// Hex SHA-256 of the token.
    pub token_sha256: String,
    /// When it was registered, in seconds since the Unix epoch.
    pub created_unix: u64,
    /// The network a training key serves; `None` for an LWE key.
    pub training: Option<TrainingSpec>,
}

/// A key ready to compute with.
#[derive(Clone)]
pub enum LoadedKey {
    /// An LWE evaluation key, expanded, for inference.
    Lwe(ServerKey),
    /// The CKKS training server built from a training key for its network.
    Training(Arc<TrainingServer>),
}

impl LoadedKey {
    /// Memory the key holds, for the cache's cap: an LWE key as expanded (about three times
    /// its compressed upload), a training key about as uploaded.
    fn memory_bytes(&self, uploaded: usize) -> u64 {
        match self {
            LoadedKey::Lwe(key) => ServerKey::payload_bytes(key.params()) as u64,
            LoadedKey::Training(_) => uploaded as u64,
        }
    }
}

/// Limits of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreLimits {
    /// Bytes of keys held loaded (as expanded in memory); the least recently used are
    /// dropped beyond it. A single key larger than
    /// the cap is still served, alone.
    pub memory_bytes: u64,
    /// Keys one client may register.
    pub keys_per_client: usize,
    /// Bytes of keys one client may register.
    pub bytes_per_client: u64,
}

/// The store; share it behind an `Arc`.
pub struct KeyStore {
    dir: PathBuf,
    limits: StoreLimits,
    cache: Mutex<Cache>,
    /// Serializes registrations on this replica, so that a client's quota is checked and
    /// used in one step.
    registering: Mutex<()>,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, (LoadedKey, u64, u64)>,
    clock: u64,
    bytes: u64,
}

/// A key id: 32 hexadecimal digits. Anything else is refused before it reaches a path.
fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A client or model name: 1 to 64 characters of `[A-Za-z0-9._-]`, so that it is safe in a
/// path segment, a query string and a file name.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// [`valid_name`] for a client's name, as an error.
pub fn check_client(name: &str) -> Result<(), ServeError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(ServeError::bad(
            "client names are 1 to 64 characters of letters, digits, '.', '_' and '-'",
        ))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex(&buf)
}

fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", random_hex(8)));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Parses and checks a key of `kind` (and, for training, its network): what an upload and
/// a reload from disk both go through. Returns the key and its parameter set's name.
pub fn parse_key(
    kind: KeyKind,
    training: Option<&TrainingSpec>,
    bytes: &[u8],
) -> Result<(LoadedKey, String), ServeError> {
    match kind {
        KeyKind::Lwe => {
            let key = ServerKey::from_bytes(bytes).map_err(|e| ServeError::bad(e.to_string()))?;
            let name = key.params().name.clone();
            Ok((LoadedKey::Lwe(key), name))
        }
        KeyKind::Training => {
            let spec = training.ok_or_else(|| {
                ServeError::bad(
                    "a training key needs its network: inputs, hidden, outputs, packing, lr",
                )
            })?;
            let shape = spec.shape().map_err(ServeError::bad)?;
            let params =
                default_params(shape.packing).map_err(|e| ServeError::Internal(e.to_string()))?;
            let server = TrainingServer::new(&params, shape, spec.lr, bytes)
                .map_err(|e| ServeError::bad(e.to_string()))?;
            let name = format!("ckks-n{}-l{}", params.n(), params.max_level());
            Ok((LoadedKey::Training(Arc::new(server)), name))
        }
    }
}

impl KeyStore {
    /// Opens (and creates) the store under `dir`.
    pub fn open(dir: &Path, limits: StoreLimits) -> Result<Self, ServeError> {
        let keys = dir.join("keys");
        fs::create_dir_all(&keys).map_err(|e| {
            ServeError::Internal(format!(
                "cannot create the key store {}: {e}",
                keys.display()
            ))
        })?;
        Ok(Self {
            dir: keys,
            limits,
            cache: Mutex::new(Cache::default()),
            registering: Mutex::new(()),
        })
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn key_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.key"))
    }

    /// Every record on disk (unreadable ones skipped: they belong to no quota).
    fn records(&self) -> Vec<KeyRecord> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".json")?;
                self.record(id).ok()
            })
            .collect()
    }

    fn record(&self, id: &str) -> Result<KeyRecord, ServeError> {
        let missing = || ServeError::NotFound(format!("no key {id}"));
        if !valid_id(id) {
            return Err(missing());
        }
        let path = self.record_path(id);
        if !path.exists() {
            return Err(missing());
        }
        let text = read_at_most(&path, MAX_RECORD_BYTES)
            .map_err(|e| ServeError::Internal(format!("record {id}: {e}")))?;
        let record: KeyRecord = serde_json::from_slice(&text)
            .map_err(|e| ServeError::Internal(format!("record {id}: {e}")))?;
        if record.id != id {
            return Err(ServeError::Internal(format!(
                "record {id} names key {}",
                record.id
            )));
        }
        Ok(record)
    }

    /// Whether `client` may register a key of `size` more bytes. [`Self::register`] checks
    /// it again under its lock; checking it first as well spares parsing a key that will be
    /// refused.
    pub fn check_quota(&self, client: &str, size: usize) -> Result<(), ServeError> {
        let mine: Vec<KeyRecord> = self
            .records()
            .into_iter()
            .filter(|r| r.client == client)
            .collect();
        let used: u64 = mine.iter().map(|r| r.bytes).sum();
        if mine.len() >= self.limits.keys_per_client
            || used.saturating_add(size as u64) > self.limits.bytes_per_client
        {
            return Err(ServeError::Quota(format!(
                "client {client} has {} keys of {} bytes; the quota is {} keys of {} bytes",
                mine.len(),
                used,
                self.limits.keys_per_client,
                self.limits.bytes_per_client
            )));
        }
        Ok(())
    }

    /// Stores a new key that [`parse_key`] accepted and returns its id and token; refused
    /// beyond the client's quota.
    pub fn register(
        &self,
        client: &str,
        kind: KeyKind,
        training: Option<TrainingSpec>,
        params: String,
        bytes: &[u8],
        loaded: LoadedKey,
    ) -> Result<Registration, ServeError> {
        check_client(client)?;
        let _guard = self.registering.lock().unwrap_or_else(|e| e.into_inner());
        self.check_quota(client, bytes.len())?;
        let size = bytes.len() as u64;
        let id = random_hex(16);
        let token = random_hex(32);
        let record = KeyRecord {
            id: id.clone(),
            client: client.to_string(),
            kind,
            params: params.clone(),
            bytes: size,
            token_sha256: token_hash(&token),
            created_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            training,
        };
        let io = |e: std::io::Error| ServeError::Internal(format!("storing key {id}: {e}"));
        write_atomic(&self.key_path(&id), bytes).map_err(io)?;
        let json =
            serde_json::to_vec_pretty(&record).map_err(|e| ServeError::Internal(e.to_string()))?;
        if let Err(e) = write_atomic(&self.record_path(&id), &json) {
            let _ = fs::remove_file(self.key_path(&id));
            return Err(io(e));
        }
        let memory = loaded.memory_bytes(bytes.len());
        self.insert(&id, loaded, memory);
        Ok(Registration {
            key_id: id,
            token,
            kind,
            params,
            bytes: size,
        })
    }

    /// The record of key `id` if `token` is its token: [`ServeError::NotFound`] if there is
    /// no such key, [`ServeError::Forbidden`] if the token is another's.
    pub fn authorize(&self, id: &str, token: &str) -> Result<KeyRecord, ServeError> {
        let record = self.record(id)?;
        if token_hash(token) != record.token_sha256 {
            return Err(ServeError::Forbidden(format!(
                "the token is not the one of key {id}"
            )));
        }
        Ok(record)
    }

    /// The loaded key of an authorized record: from the cache, or read back from disk
    /// (blocking: call it off the async threads).
    pub fn load(&self, record: &KeyRecord) -> Result<LoadedKey, ServeError> {
        if let Some(key) = self.cached(&record.id) {
            return Ok(key);
        }
        let path = self.key_path(&record.id);
        // No larger than when it was registered.
        let bytes = read_at_most(&path, record.bytes)
            .map_err(|e| ServeError::Internal(format!("key {}: {e}", record.id)))?;
        let (key, _) = parse_key(record.kind, record.training.as_ref(), &bytes)
            .map_err(|e| ServeError::Internal(format!("key {} no longer loads: {e}", record.id)))?;
        self.insert(&record.id, key.clone(), key.memory_bytes(bytes.len()));
        Ok(key)
    }

    /// Deletes a key (its files first, then the cache entry). Other replicas notice at
    /// their next request for it, which finds no record.
    pub fn delete(&self, id: &str) -> Result<(), ServeError> {
        fs::remove_file(self.record_path(id))
            .map_err(|e| ServeError::Internal(format!("deleting key {id}: {e}")))?;
        let _ = fs::remove_file(self.key_path(id));
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, size, _)) = cache.keys.remove(id) {
            cache.bytes -= size;
        }
        Ok(())
    }

    /// Keys held loaded and their bytes.
    pub fn loaded(&self) -> (usize, u64) {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        (cache.keys.len(), cache.bytes)
    }

    fn cached(&self, id: &str) -> Option<LoadedKey> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.clock += 1;
        let now = cache.clock;
        let entry = cache.keys.get_mut(id)?;
        entry.2 = now;
        Some(entry.0.clone())
    }

    fn insert(&self, id: &str, key: LoadedKey, size: u64) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.clock += 1;
        let now = cache.clock;
        if let Some((_, old, _)) = cache.keys.insert(id.to_string(), (key, size, now)) {
            cache.bytes -= old;
        }
        cache.bytes += size;
        while cache.bytes > self.limits.memory_bytes && cache.keys.len() > 1 {
            let oldest = cache
                .keys
                .iter()
                .filter(|(k, _)| k.as_str() != id)
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(k, _)| k.clone());
            let Some(oldest) = oldest else { break };
            if let Some((_, size, _)) = cache.keys.remove(&oldest) {
                cache.bytes -= size;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_client_names_are_checked_before_any_path() {
        assert!(valid_id(&random_hex(16)));
        for bad in [
            "",
            "../../etc/passwd",
            "ABCDEF0123456789ABCDEF0123456789",
            &"a".repeat(33),
        ] {
            assert!(!valid_id(bad), "{bad}");
        }
        assert!(valid_name("clinic-7.a_b"));
        for bad in ["", "a/b", "..\\x", "é", &"c".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    /// A small LWE key and its upload.
    fn key(seed: u64) -> (LoadedKey, Vec<u8>) {
        let p = shroud_lwe::bootstrap::presets::insecure_test();
        let bytes = shroud_lwe::bootstrap::ClientKey::from_seed(&p, seed)
            .unwrap()
            .compressed_server_key()
            .to_bytes();
        let (key, _) = parse_key(KeyKind::Lwe, None, &bytes).unwrap();
        (key, bytes)
    }

    #[test]
    fn quotas_cap_and_eviction_and_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (k, bytes) = key(1);
        let one = k.memory_bytes(bytes.len());
        let limits = StoreLimits {
            memory_bytes: 2 * one + one / 2,
            keys_per_client: 2,
            bytes_per_client: u64::MAX,
        };
        let store = KeyStore::open(dir.path(), limits).unwrap();
        let register = |client: &str, seed| {
            let (k, bytes) = key(seed);
            store.register(
                client,
                KeyKind::Lwe,
                None,
                "insecure_test".into(),
                &bytes,
                k,
            )
        };
        let a = register("x", 1).unwrap();
        let b = register("x", 2).unwrap();
        assert!(matches!(register("x", 3), Err(ServeError::Quota(_))));
        assert!(matches!(
            register("../x", 3),
            Err(ServeError::BadRequest(_))
        ));
        assert_eq!(store.loaded(), (2, 2 * one));
        // A third key (another client) goes over the memory cap: the least recently used
        // one (a) is dropped, and loaded again from disk when asked for.
        let c = register("y", 3).unwrap();
        assert_eq!(store.loaded(), (2, 2 * one));
        let ra = store.authorize(&a.key_id, &a.token).unwrap();
        assert!(store.cached(&a.key_id).is_none());
        store.load(&ra).unwrap();
        assert!(store.cached(&a.key_id).is_some());
        assert!(
            store.cached(&b.key_id).is_none(),
            "b was the least recently used"
        );
        assert_eq!(store.loaded().0, 2);
        // Tokens are scoped to their key.
        assert!(matches!(
            store.authorize(&a.key_id, &b.token),
            Err(ServeError::Forbidden(_))
        ));
        assert!(matches!(
            store.authorize(&random_hex(16), &a.token),
            Err(ServeError::NotFound(_))
        ));
        // Deleted, it is gone; the others survive a new store on the same directory (a
        // restart, or another replica).
        store.delete(&a.key_id).unwrap();
        assert!(matches!(
            store.authorize(&a.key_id, &a.token),
            Err(ServeError::NotFound(_))
        ));
        let again = KeyStore::open(dir.path(), limits).unwrap();
        for r in [&b, &c] {
            let record = again.authorize(&r.key_id, &r.token).unwrap();
            assert!(matches!(again.load(&record).unwrap(), LoadedKey::Lwe(_)));
        }
        // A record edited on disk to name another key is refused, not followed.
        let path = again.record_path(&b.key_id);
        let text = fs::read_to_string(&path)
            .unwrap()
            .replace(&b.key_id, &c.key_id);
        fs::write(&path, text).unwrap();
        assert!(again.authorize(&b.key_id, &b.token).is_err());
    }

    #[test]
    fn tokens_are_stored_hashed() {
        let t = random_hex(32);
        assert_eq!(t.len(), 64);
        assert_ne!(token_hash(&t), t);
        assert_eq!(token_hash(&t), token_hash(&t));
        assert_ne!(random_hex(32), t);
    }
}
