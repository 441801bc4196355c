//! Compressed in-memory sample storage for one time series.
//!
//! This is the memory edge of logbridge's in-stream rules engine: every
//! series the engine evaluates keeps its recent samples here, so the cost of
//! one sample decides how many series and how much look-back fit in memory.
//! A plain `(i64, f64)` costs 16 bytes; with the encoding below a regular
//! scrape costs roughly 0.3–1.5 bytes per sample.
//!
//! It is hand-written rather than taken from a crate because it is small,
//! sits on the hot path of every sample, must round-trip float bits exactly
//! (the Prometheus stale marker is a NaN *payload*), must never panic on any
//! input, and its byte accounting has to be honest for our memory limits.
//!
//! # Encoding ("Gorilla", as in the Prometheus head block)
//!
//! A chunk ([`XorChunk`]) holds at most [`MAX_SAMPLES_PER_CHUNK`] samples as
//! one MSB-first bit stream. The first timestamp and the sample count live in
//! the struct, not in the stream.
//!
//! * Sample 0: `1` and the value as a zigzag varint when it is an integer
//!   that f64 holds exactly (a counter: usually 2-4 bytes), else `0` and
//!   its 64 raw bits.
//! * Sample 1: the timestamp delta as a varint (groups of 7 bits plus a
//!   continuation bit), then the value.
//! * Sample n ≥ 2: the delta-of-delta `dod` of the timestamp, then the value:
//!
//!   | prefix   | payload          | range of `dod`                    |
//!   |----------|------------------|-----------------------------------|
//!   | `0`      | –                | 0                                 |
//!   | `10`     | 4 bits signed    | -8 ..= 7 (a scrape's ms of jitter)|
//!   | `110`    | 7 bits signed    | -64 ..= 63                        |
//!   | `1110`   | 14 bits signed   | -8192 ..= 8191                    |
//!   | `11110`  | 20 bits signed   | ±2^19                             |
//!   | `111110` | 32 bits signed   | ±2^31                             |
//!   | `111111` | 64 bits          | anything (wrapping)               |
//!
//!   Deltas and delta-of-deltas are computed with wrapping `u64` arithmetic:
//!   timestamps are strictly increasing, so every real delta lies in
//!   `1..2^64` and is recovered exactly modulo 2^64, even for `i64::MIN` →
//!   `i64::MAX`.
//! * Values, after the first, take one of four forms:
//!
//!   | prefix | payload                                            |
//!   |--------|----------------------------------------------------|
//!   | `0`    | bits identical to the previous value               |
//!   | `10`   | XOR with the previous bits, in the current window  |
//!   | `110`  | 5 bits leading zeros (≤ 31), 6 bits width (64 as 0), then the XOR's meaningful bits; this becomes the window |
//!   | `111`  | integer delta `d`: `0`+5 bits, `10`+14 bits or `11`+55 bits, signed |
//!
//!   In *integer mode* `10` and `111` swap meanings, so that the integer
//!   delta costs two prefix bits: a chunk is in integer mode after its
//!   first value was written as an integer, or its last changed value as
//!   an integer delta, and leaves it with any XOR form. For counters this
//!   is one bit less on nearly every sample.
//!
//!   `10`/`110` are Gorilla's XOR scheme. `111` is our extension for
//!   integer-valued series (counters, byte gauges), where carries make XORs
//!   of neighbouring integers wide: it is used only when both values are
//!   integers below 2^53 and `prev + d` rebuilds the new value *bit for
//!   bit*. The encoder writes whichever form is cheapest for each sample
//!   (plain Gorilla always reuses a fitting window, however wide); the
//!   decoder just follows the prefixes.
//!
//! # Series
//!
//! [`SeriesSamples`] keeps closed chunks (sealed into exact-size boxed byte
//! slices, with the sample count as their first byte) plus one open head
//! chunk. Policies:
//!
//! * Timestamps must strictly increase. Re-appending the *last* sample with
//!   the same timestamp and bit-identical value is accepted as a no-op (a
//!   re-delivered sample); the same timestamp with other bits is refused.
//! * [`SeriesSamples::truncate_before`] drops whole closed chunks only; the
//!   open head chunk is always kept, so the series keeps its ordering
//!   watermark and [`SeriesSamples::last`]. Readers must filter by time,
//!   which [`SeriesSamples::range`] does.
//! * `byte_len` counts heap bytes by capacity (not length), including the
//!   vector of chunk descriptors; the inline size of the struct itself is
//!   `size_of::<SeriesSamples>()` and is not included.

use std::fmt;
use std::iter::FusedIterator;

/// Most samples one chunk holds (as in Prometheus).
pub const MAX_SAMPLES_PER_CHUNK: usize = 120;

/// The buffer a new head chunk starts with (about a dozen samples).
const HEAD_START_BYTES: usize = 16;

// Closed chunks store their count in one byte.
const _: () = assert!(MAX_SAMPLES_PER_CHUNK <= u8::MAX as usize);

/// Why a sample was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The timestamp is older than the last one held.
    OutOfOrder {
        /// Last timestamp held.
        last: i64,
        /// Timestamp offered.
        t: i64,
    },
    /// The timestamp equals the last one held (for a series: with a value
    /// whose bits differ from the held one).
    DuplicateTimestamp {
        /// The repeated timestamp.
        t: i64,
    },
    /// The chunk already holds [`MAX_SAMPLES_PER_CHUNK`] samples.
    ChunkFull,
}

impl fmt::Display for AppendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppendError::OutOfOrder { last, t } => write!(
                f,
                "out-of-order sample: timestamp {t} is not after the last timestamp {last}"
            ),
            AppendError::DuplicateTimestamp { t } => {
                write!(
                    f,
                    "duplicate sample for timestamp {t} with a different value"
                )
            }
            AppendError::ChunkFull => {
                write!(f, "chunk is full ({MAX_SAMPLES_PER_CHUNK} samples)")
            }
        }
    }
}

impl std::error::Error for AppendError {}

/// Payload widths of the signed buckets for timestamp delta-of-deltas.
/// Bucket `i` has the prefix "`i` ones then a zero", the last one "all ones".
const DOD_BUCKETS: [u32; 7] = [0, 4, 7, 14, 20, 32, 64];
/// Same for integer value deltas (see [`int_delta`]).
const INT_BUCKETS: [u32; 3] = [5, 14, 55];

/// Whether `v` fits in a two's-complement field of `bits` bits.
fn fits_signed(v: i64, bits: u32) -> bool {
    match bits {
        0 => v == 0,
        64.. => true,
        _ => {
            let half = 1i64 << (bits - 1);
            (-half..half).contains(&v)
        }
    }
}

/// Index of the first bucket `v` fits in, and its prefix length.
fn bucket_for(v: i64, table: &[u32]) -> (usize, u32) {
    let last = table.len().saturating_sub(1);
    let i = table
        .iter()
        .position(|&bits| fits_signed(v, bits))
        .unwrap_or(last);
    let prefix_len = if i < last { i + 1 } else { last };
    (i, prefix_len as u32)
}

/// Largest integer magnitude for which every integer is an exact f64.
const EXACT_INT_LIMIT: f64 = 9_007_199_254_740_992.0; // 2^53

/// If `prev` and `cur` are both integers that f64 holds exactly, and
/// `prev + d` rebuilds `cur` bit for bit, the integer difference `d`.
/// The decoder does the same addition, so the round trip stays exact
/// (e.g. 0.0 -> -0.0 does not qualify and falls back to XOR).
fn int_delta(prev: u64, cur: u64) -> Option<i64> {
    let (p, c) = (f64::from_bits(prev), f64::from_bits(cur));
    let exact = |x: f64| x.is_finite() && x.fract() == 0.0 && x.abs() <= EXACT_INT_LIMIT;
    if !exact(p) || !exact(c) {
        return None;
    }
    let d = (c as i64) - (p as i64);
    ((p + d as f64).to_bits() == cur).then_some(d)
}

/// The integer `bits` holds, if it is one that converts back to exactly
/// these bits (so not `-0.0`).
fn exact_int(bits: u64) -> Option<i64> {
    let v = f64::from_bits(bits);
    (v.is_finite() && v.fract() == 0.0 && v.abs() <= EXACT_INT_LIMIT)
        .then_some(v as i64)
        .filter(|&i| (i as f64).to_bits() == bits)
}

/// Signed to unsigned with small magnitudes small (0, -1, 1, -2, ...).
fn zigzag(i: i64) -> u64 {
    ((i << 1) ^ (i >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

/// Sign-extends the low `bits` bits of `raw` (1 <= bits <= 64).
fn sign_extend(raw: u64, bits: u32) -> i64 {
    if bits >= 64 {
        return raw as i64;
    }
    let shift = 64 - bits;
    ((raw << shift) as i64) >> shift
}

/// One append-only compressed chunk of up to [`MAX_SAMPLES_PER_CHUNK`]
/// samples.
#[derive(Debug, Clone, Default)]
pub struct XorChunk {
    /// Encoded bit stream, MSB first.
    buf: Vec<u8>,
    first_t: i64,
    last_t: i64,
    /// Last timestamp delta (wrapping).
    prev_delta: u64,
    /// Bits of the last value.
    prev_v: u64,
    count: u16,
    /// Current XOR window: leading zeros and meaningful bits (0 = none yet).
    lead: u8,
    sig: u8,
    /// Unused low bits in the last byte of `buf`.
    free: u8,
    /// Whether the last changed value was written as an integer delta (or
    /// the first value as an integer): then that form has the short prefix.
    int_mode: bool,
}

impl XorChunk {
    /// An empty chunk; allocates nothing until the first append.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            ..Self::default()
        }
    }

    /// Appends a sample. The timestamp must be strictly greater than the
    /// last one; the chunk must not be full.
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), AppendError> {
        if self.count > 0 {
            if t < self.last_t {
                return Err(AppendError::OutOfOrder {
                    last: self.last_t,
                    t,
                });
            }
            if t == self.last_t {
                return Err(AppendError::DuplicateTimestamp { t });
            }
        }
        if self.is_full() {
            return Err(AppendError::ChunkFull);
        }
        let bits = v.to_bits();
        match self.count {
            0 => {
                self.first_t = t;
                match exact_int(bits) {
                    Some(i) => {
                        self.put_bits(1, 1);
                        self.put_varint(zigzag(i));
                        self.int_mode = true;
                    }
                    None => {
                        self.put_bits(0, 1);
                        self.put_bits(bits, 64);
                    }
                }
            }
            1 => {
                let delta = t.wrapping_sub(self.last_t) as u64;
                self.put_varint(delta);
                self.prev_delta = delta;
                self.put_value(bits);
            }
            _ => {
                let delta = t.wrapping_sub(self.last_t) as u64;
                let dod = delta.wrapping_sub(self.prev_delta) as i64;
                self.put_bucketed(dod, &DOD_BUCKETS);
                self.prev_delta = delta;
                self.put_value(bits);
            }
        }
        self.last_t = t;
        self.prev_v = bits;
        self.count += 1;
        Ok(())
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        usize::from(self.count)
    }

    /// Whether the chunk holds no sample.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the chunk holds [`MAX_SAMPLES_PER_CHUNK`] samples.
    pub fn is_full(&self) -> bool {
        self.len() >= MAX_SAMPLES_PER_CHUNK
    }

    /// Timestamp of the first sample.
    pub fn first_time(&self) -> Option<i64> {
        (self.count > 0).then_some(self.first_t)
    }

    /// Timestamp of the last sample.
    pub fn last_time(&self) -> Option<i64> {
        (self.count > 0).then_some(self.last_t)
    }

    /// The last sample, without decoding.
    pub fn last(&self) -> Option<(i64, f64)> {
        (self.count > 0).then(|| (self.last_t, f64::from_bits(self.prev_v)))
    }

    /// Heap bytes held by the encoded stream (its buffer's capacity).
    pub fn byte_len(&self) -> usize {
        self.buf.capacity()
    }

    /// Bytes of the encoded stream actually written.
    pub fn encoded_len(&self) -> usize {
        self.buf.len()
    }

    /// Decodes the samples in time order, without allocating.
    pub fn iter(&self) -> XorIter<'_> {
        XorIter::new(&self.buf, self.first_t, self.count)
    }

    fn put_bits(&mut self, value: u64, n: u32) {
        let mut n = n.min(64);
        while n > 0 {
            if self.free == 0 {
                if self.buf.len() == self.buf.capacity() {
                    // Grow by an eighth, not double: the unused room of the
                    // head chunk is paid by every series (a quarter left
                    // 0.07 bytes/sample more of it in the rules bench).
                    self.buf.reserve_exact((self.buf.len() / 8).max(8));
                }
                self.buf.push(0);
                self.free = 8;
            }
            let take = n.min(u32::from(self.free));
            let part = ((value >> (n - take)) & ((1u64 << take) - 1)) as u8;
            let pos = u32::from(self.free) - take;
            if let Some(last) = self.buf.last_mut() {
                *last |= part << pos;
            }
            self.free -= take as u8;
            n -= take;
        }
    }

    fn put_varint(&mut self, mut v: u64) {
        loop {
            let group = v & 0x7f;
            v >>= 7;
            if v == 0 {
                self.put_bits(group, 8);
                return;
            }
            self.put_bits(0x80 | group, 8);
        }
    }

    /// Writes `v` with the unary-prefixed bucket table `table`.
    fn put_bucketed(&mut self, v: i64, table: &[u32]) {
        let (i, prefix_len) = bucket_for(v, table);
        let ones = (1u64 << prefix_len.min(63)) - 1;
        // "i ones then a zero", or all ones for the last bucket.
        let prefix = if (i as u32) < prefix_len {
            ones - 1
        } else {
            ones
        };
        self.put_bits(prefix, prefix_len);
        self.put_bits(v as u64, table.get(i).copied().unwrap_or(64));
    }

    fn put_value(&mut self, bits: u64) {
        let xor = bits ^ self.prev_v;
        if xor == 0 {
            self.put_bits(0, 1);
            return;
        }
        let lead = xor.leading_zeros().min(31);
        let trail = xor.trailing_zeros();
        let sig = 64 - lead - trail;
        let (prev_lead, prev_sig) = (u32::from(self.lead), u32::from(self.sig));
        let prev_trail = 64u32.saturating_sub(prev_lead + prev_sig);
        // The form used last gets the two-bit prefix `10`: window reuse,
        // or in integer mode the integer delta (the other then takes `111`).
        let (reuse_prefix, int_prefix) = if self.int_mode { (3, 2) } else { (2, 3) };
        // Pick the cheapest of the three encodings; ties favour the order
        // reuse, integer delta, new window.
        let reuse_cost = (prev_sig > 0 && lead >= prev_lead && trail >= prev_trail)
            .then_some(reuse_prefix + prev_sig);
        let int = int_delta(self.prev_v, bits).map(|d| {
            let (i, prefix_len) = bucket_for(d, &INT_BUCKETS);
            (
                d,
                int_prefix + prefix_len + INT_BUCKETS.get(i).copied().unwrap_or(64),
            )
        });
        let new_cost = 3 + 5 + 6 + sig;
        let (reuse_code, int_code) = if self.int_mode {
            ((0b111, 3), (0b10, 2))
        } else {
            ((0b10, 2), (0b111, 3))
        };
        if let Some(cost) = reuse_cost
            && cost <= new_cost
            && int.is_none_or(|(_, c)| cost <= c)
        {
            self.put_bits(reuse_code.0, reuse_code.1);
            self.put_bits(xor >> prev_trail, prev_sig);
            self.int_mode = false;
            return;
        }
        if let Some((d, cost)) = int
            && cost <= new_cost
        {
            self.put_bits(int_code.0, int_code.1);
            self.put_bucketed(d, &INT_BUCKETS);
            self.int_mode = true;
            return;
        }
        self.int_mode = false;
        self.put_bits(0b110, 3);
        self.put_bits(u64::from(lead), 5);
        self.put_bits(u64::from(sig & 63), 6);
        self.put_bits(xor >> trail, sig);
        self.lead = lead as u8;
        self.sig = sig as u8;
    }
}

impl<'a> IntoIterator for &'a XorChunk {
    type Item = (i64, f64);
    type IntoIter = XorIter<'a>;
    fn into_iter(self) -> XorIter<'a> {
        self.iter()
    }
}

/// MSB-first bit reader that reports running off the end as `None`.
#[derive(Debug, Clone)]
struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.data.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Some(bit == 1)
    }

    fn read_bits(&mut self, n: u32) -> Option<u64> {
        let mut n = n.min(64);
        let mut out = 0u64;
        while n > 0 {
            let byte = u32::from(*self.data.get(self.pos / 8)?);
            let avail = 8 - (self.pos % 8) as u32;
            let take = n.min(avail);
            let part = (byte >> (avail - take)) & ((1u32 << take) - 1);
            out = (out << take) | u64::from(part);
            self.pos += take as usize;
            n -= take;
        }
        Some(out)
    }

    fn read_varint(&mut self) -> Option<u64> {
        let mut out = 0u64;
        let mut shift = 0u32;
        loop {
            let group = self.read_bits(8)?;
            if shift > 63 {
                return None;
            }
            out |= (group & 0x7f) << shift;
            if group & 0x80 == 0 {
                return Some(out);
            }
            shift += 7;
        }
    }

    /// Reads a value written by [`XorChunk::put_bucketed`] with `table`.
    fn read_bucketed(&mut self, table: &[u32]) -> Option<i64> {
        let last = table.len().saturating_sub(1);
        let mut i = 0usize;
        while i < last && self.read_bit()? {
            i += 1;
        }
        let bits = *table.get(i)?;
        if bits == 0 {
            return Some(0);
        }
        Some(sign_extend(self.read_bits(bits)?, bits))
    }
}

/// Iterator over one chunk's samples, decoding on the fly.
#[derive(Debug, Clone)]
pub struct XorIter<'a> {
    reader: BitReader<'a>,
    remaining: u16,
    index: u16,
    t: i64,
    delta: u64,
    v: u64,
    lead: u32,
    sig: u32,
    /// As [`XorChunk::int_mode`].
    int_mode: bool,
}

impl<'a> XorIter<'a> {
    fn new(data: &'a [u8], first_t: i64, count: u16) -> Self {
        Self {
            reader: BitReader { data, pos: 0 },
            remaining: count,
            index: 0,
            t: first_t,
            delta: 0,
            v: 0,
            lead: 0,
            sig: 0,
            int_mode: false,
        }
    }

    fn read_value(&mut self) -> Option<()> {
        if !self.reader.read_bit()? {
            return Some(());
        }
        // `10`: the form used last; `111`: the other of reuse and integer
        // delta; `110`: a new window.
        let second = self.reader.read_bit()?;
        let third = second && self.reader.read_bit()?;
        let int = match (second, third) {
            (false, _) => self.int_mode,
            (true, true) => !self.int_mode,
            (true, false) => false,
        };
        if int {
            let d = self.reader.read_bucketed(&INT_BUCKETS)?;
            self.v = (f64::from_bits(self.v) + d as f64).to_bits();
            self.int_mode = true;
            return Some(());
        }
        self.int_mode = false;
        if second && !third {
            let lead = self.reader.read_bits(5)? as u32;
            let sig = match self.reader.read_bits(6)? as u32 {
                0 => 64,
                s => s,
            };
            if lead + sig > 64 {
                return None;
            }
            self.lead = lead;
            self.sig = sig;
        } else if self.sig == 0 {
            return None;
        }
        let trail = 64 - self.lead - self.sig;
        let bits = self.reader.read_bits(self.sig)?;
        self.v ^= bits << trail;
        Some(())
    }

    fn decode(&mut self) -> Option<(i64, f64)> {
        match self.index {
            0 => {
                self.v = if self.reader.read_bit()? {
                    self.int_mode = true;
                    (unzigzag(self.reader.read_varint()?) as f64).to_bits()
                } else {
                    self.reader.read_bits(64)?
                };
            }
            1 => {
                self.delta = self.reader.read_varint()?;
                self.t = self.t.wrapping_add(self.delta as i64);
                self.read_value()?;
            }
            _ => {
                let dod = self.reader.read_bucketed(&DOD_BUCKETS)?;
                self.delta = self.delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.delta as i64);
                self.read_value()?;
            }
        }
        Some((self.t, f64::from_bits(self.v)))
    }
}

impl Iterator for XorIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.remaining == 0 {
            return None;
        }
        match self.decode() {
            Some(sample) => {
                self.remaining -= 1;
                self.index += 1;
                Some(sample)
            }
            None => {
                // Only a corrupt stream gets here; end cleanly.
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.remaining)))
    }
}

impl FusedIterator for XorIter<'_> {}

/// A full chunk, sealed: `data[0]` is the sample count, the rest is the
/// stream, allocated to the exact size.
#[derive(Debug, Clone)]
struct ClosedChunk {
    data: Box<[u8]>,
    first_t: i64,
    last_t: i64,
}

impl ClosedChunk {
    fn seal(chunk: &XorChunk) -> Self {
        let mut data = Vec::with_capacity(1 + chunk.buf.len());
        data.push(chunk.count as u8);
        data.extend_from_slice(&chunk.buf);
        Self {
            data: data.into_boxed_slice(),
            first_t: chunk.first_t,
            last_t: chunk.last_t,
        }
    }

    fn len(&self) -> usize {
        usize::from(self.data.first().copied().unwrap_or(0))
    }

    fn iter(&self) -> XorIter<'_> {
        let stream = self.data.get(1..).unwrap_or(&[]);
        XorIter::new(stream, self.first_t, self.len() as u16)
    }
}

/// All samples held for one series: closed chunks plus the open head chunk.
#[derive(Debug, Clone, Default)]
pub struct SeriesSamples {
    /// Sealed chunks, in time order.
    closed: Vec<ClosedChunk>,
    /// Open chunk; empty only if the series never had a sample.
    head: XorChunk,
    closed_samples: usize,
}

impl SeriesSamples {
    /// An empty series; allocates nothing until the first append.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a sample. A timestamp older than the last is refused; the
    /// last timestamp again is a no-op if the value bits are identical and
    /// refused otherwise.
    pub fn append(&mut self, t: i64, v: f64) -> Result<(), AppendError> {
        if let Some((last_t, last_v)) = self.head.last() {
            if t < last_t {
                return Err(AppendError::OutOfOrder { last: last_t, t });
            }
            if t == last_t {
                return if last_v.to_bits() == v.to_bits() {
                    Ok(())
                } else {
                    Err(AppendError::DuplicateTimestamp { t })
                };
            }
        }
        if self.head.is_full() {
            self.seal_head();
        }
        self.head.append(t, v)
    }

    fn seal_head(&mut self) {
        if self.head.is_empty() {
            return;
        }
        if self.closed.len() == self.closed.capacity() {
            // Grow by 25% rather than doubling: the descriptors are a
            // visible part of the per-sample cost (a series that a short
            // retention keeps at one or two chunks gets no spare room).
            let extra = (self.closed.len() / 4).max(1);
            self.closed.reserve_exact(extra);
        }
        self.closed.push(ClosedChunk::seal(&self.head));
        self.closed_samples += self.head.len();
        // Start small and let the buffer grow: with a short retention most
        // of the head's life is spent far from full, and room reserved for
        // a whole chunk would cost several bytes per sample held.
        self.head = XorChunk::with_capacity(HEAD_START_BYTES);
    }

    /// Drops every closed chunk whose last timestamp is before `t` and
    /// returns how many samples were dropped. Chunks straddling `t` and the
    /// open head chunk are kept, so samples before `t` may remain.
    pub fn truncate_before(&mut self, t: i64) -> usize {
        let k = self.closed.partition_point(|c| c.last_t < t);
        if k == 0 {
            return 0;
        }
        let dropped: usize = self.closed.drain(..k).map(|c| c.len()).sum();
        self.closed_samples -= dropped;
        if self.closed.capacity() / 2 > self.closed.len() {
            self.closed
                .shrink_to(self.closed.len() + self.closed.len() / 4);
        }
        dropped
    }

    /// Samples with `mint <= t <= maxt`, in time order. Chunks that cannot
    /// overlap the range are skipped without decoding.
    pub fn range(&self, mint: i64, maxt: i64) -> RangeIter<'_> {
        let start = self.closed.partition_point(|c| c.last_t < mint);
        let head = (!self.head.is_empty() && self.head.last_t >= mint).then_some(&self.head);
        RangeIter {
            chunks: self.closed.get(start..).unwrap_or(&[]).iter(),
            head,
            current: None,
            mint,
            maxt,
            done: mint > maxt,
        }
    }

    /// All samples held, in time order.
    pub fn iter(&self) -> RangeIter<'_> {
        self.range(i64::MIN, i64::MAX)
    }

    /// The newest sample.
    pub fn last(&self) -> Option<(i64, f64)> {
        self.head.last()
    }

    /// Timestamp of the oldest sample held.
    pub fn first_time(&self) -> Option<i64> {
        match self.closed.first() {
            Some(c) => Some(c.first_t),
            None => self.head.first_time(),
        }
    }

    /// Timestamp of the newest sample.
    pub fn last_time(&self) -> Option<i64> {
        self.head.last_time()
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.closed_samples + self.head.len()
    }

    /// Whether no sample is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of chunks (closed plus a non-empty head).
    pub fn num_chunks(&self) -> usize {
        self.closed.len() + usize::from(!self.head.is_empty())
    }

    /// Heap bytes held: the chunk-descriptor vector by capacity, every
    /// closed chunk's exact-size buffer and the head chunk's buffer capacity.
    pub fn byte_len(&self) -> usize {
        self.closed.capacity() * size_of::<ClosedChunk>()
            + self.closed.iter().map(|c| c.data.len()).sum::<usize>()
            + self.head.byte_len()
    }
}

impl<'a> IntoIterator for &'a SeriesSamples {
    type Item = (i64, f64);
    type IntoIter = RangeIter<'a>;
    fn into_iter(self) -> RangeIter<'a> {
        self.iter()
    }
}

/// Iterator returned by [`SeriesSamples::range`].
#[derive(Debug, Clone)]
pub struct RangeIter<'a> {
    chunks: std::slice::Iter<'a, ClosedChunk>,
    head: Option<&'a XorChunk>,
    current: Option<XorIter<'a>>,
    mint: i64,
    maxt: i64,
    done: bool,
}

impl Iterator for RangeIter<'_> {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        while !self.done {
            if let Some(it) = self.current.as_mut() {
                match it.next() {
                    Some((t, _)) if t < self.mint => continue,
                    Some((t, _)) if t > self.maxt => break,
                    Some(sample) => return Some(sample),
                    None => self.current = None,
                }
            }
            let (first_t, iter) = if let Some(c) = self.chunks.next() {
                (c.first_t, c.iter())
            } else if let Some(h) = self.head.take() {
                (h.first_t, h.iter())
            } else {
                break;
            };
            if first_t > self.maxt {
                break;
            }
            self.current = Some(iter);
        }
        self.done = true;
        self.current = None;
        None
    }
}

impl FusedIterator for RangeIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
    const PLAIN_NAN: u64 = 0x7ff8_0000_0000_0001;

    fn bits(samples: impl IntoIterator<Item = (i64, f64)>) -> Vec<(i64, u64)> {
        samples.into_iter().map(|(t, v)| (t, v.to_bits())).collect()
    }

    fn chunk_of(samples: &[(i64, u64)]) -> XorChunk {
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, f64::from_bits(v)).expect("append");
        }
        c
    }

    fn series_of(samples: &[(i64, u64)]) -> SeriesSamples {
        let mut s = SeriesSamples::new();
        for &(t, v) in samples {
            s.append(t, f64::from_bits(v)).expect("append");
        }
        s
    }

    /// Checks chunk (when it fits) and series round trips.
    fn assert_round_trip(samples: &[(i64, u64)]) {
        if samples.len() <= MAX_SAMPLES_PER_CHUNK {
            let c = chunk_of(samples);
            assert_eq!(bits(c.iter()), samples);
            assert_eq!(c.len(), samples.len());
        }
        let s = series_of(samples);
        assert_eq!(bits(s.iter()), samples);
        assert_eq!(s.len(), samples.len());
    }

    /// splitmix64, for deterministic test data without a dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn empty() {
        let c = XorChunk::new();
        assert!(c.is_empty() && !c.is_full());
        assert_eq!((c.len(), c.byte_len(), c.encoded_len()), (0, 0, 0));
        assert_eq!(
            (c.first_time(), c.last_time(), c.last()),
            (None, None, None)
        );
        assert_eq!(c.iter().next(), None);

        let s = SeriesSamples::new();
        assert!(s.is_empty());
        assert_eq!((s.len(), s.num_chunks(), s.byte_len()), (0, 0, 0));
        assert_eq!(
            (s.first_time(), s.last_time(), s.last()),
            (None, None, None)
        );
        assert_eq!(s.iter().next(), None);
        assert_eq!(s.range(0, 10).next(), None);
    }

    #[test]
    fn one_sample() {
        let c = chunk_of(&[(42, 1.5f64.to_bits())]);
        assert_eq!(bits(c.iter()), vec![(42, 1.5f64.to_bits())]);
        assert_eq!((c.first_time(), c.last_time()), (Some(42), Some(42)));
        // A flag bit and 64 raw bits; an integer first value is a varint.
        assert_eq!(c.encoded_len(), 9);
        let int = chunk_of(&[(42, 1000f64.to_bits())]);
        assert_eq!(int.encoded_len(), 3);
        assert_eq!(bits(int.iter()), vec![(42, 1000f64.to_bits())]);
        let s = series_of(&[(42, 1.5f64.to_bits())]);
        assert_eq!(s.last(), Some((42, 1.5)));
        assert_eq!(bits(s.range(42, 42)), vec![(42, 1.5f64.to_bits())]);
        assert_eq!(s.range(43, 100).next(), None);
        assert_eq!(s.range(-100, 41).next(), None);
    }

    #[test]
    fn negative_timestamps() {
        let samples: Vec<_> = (0..300)
            .map(|i| (-10_000_000 + i * 15_000 + (i % 3), (i as f64).to_bits()))
            .collect();
        assert_round_trip(&samples);
    }

    #[test]
    fn extreme_timestamps() {
        let p62 = 1i64 << 62;
        assert_round_trip(&[(-p62, 0), (-p62 + 1, 1), (0, 2), (p62 - 1, 3), (p62, 4)]);
        assert_round_trip(&[(i64::MIN, 1), (i64::MAX, 2)]);
        assert_round_trip(&[(i64::MIN, 1), (i64::MIN + 1, 2), (i64::MAX, 3)]);
        assert_round_trip(&[
            (i64::MIN, 1),
            (-1, 2),
            (0, 3),
            (i64::MAX - 1, 4),
            (i64::MAX, 5),
        ]);
        assert_round_trip(&[(i64::MAX - 2, 1), (i64::MAX - 1, 2), (i64::MAX, 3)]);
    }

    #[test]
    fn dod_bucket_boundaries_and_overflow() {
        // dod values at every bucket edge, and past the widest small one.
        let mut dods = vec![0i64];
        for b in [7u32, 14, 20, 32] {
            let half = 1i64 << (b - 1);
            dods.extend([half - 1, half, -half, -half - 1]);
        }
        dods.extend([1 << 40, -(1 << 40), 1 << 61]);
        let mut t = 0i64;
        let mut delta = 1i64 << 33;
        let mut samples = vec![(t, 0u64)];
        for (i, d) in dods.iter().enumerate() {
            delta += d;
            t += delta;
            samples.push((t, i as u64));
        }
        assert_round_trip(&samples);
        // Delta-of-delta not representable in i64 at all.
        assert_round_trip(&[(i64::MIN, 0), (i64::MIN + 1, 0), (i64::MAX, 0)]);
        assert_round_trip(&[(i64::MIN, 0), (i64::MAX - 1, 0), (i64::MAX, 0)]);
    }

    #[test]
    fn first_values_round_trip_in_either_form() {
        for first in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            EXACT_INT_LIMIT,
            -EXACT_INT_LIMIT,
            EXACT_INT_LIMIT * 2.0,
            1e300,
            0.5,
            f64::NAN,
        ] {
            let samples = [(0, first.to_bits()), (15_000, 7f64.to_bits())];
            assert_round_trip(&samples);
        }
    }

    #[test]
    fn nan_payloads_inf_and_signed_zero() {
        let values = [
            STALE_NAN,
            PLAIN_NAN,
            STALE_NAN,
            f64::NAN.to_bits(),
            (-f64::NAN).to_bits(),
            0xfff0_0000_0000_0001,
            f64::INFINITY.to_bits(),
            f64::NEG_INFINITY.to_bits(),
            0.0f64.to_bits(),
            (-0.0f64).to_bits(),
            0.0f64.to_bits(),
            0,
            u64::MAX,
            1,
            f64::MIN_POSITIVE.to_bits(),
            f64::MAX.to_bits(),
            f64::MIN.to_bits(),
            STALE_NAN,
        ];
        let samples: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64 * 15_000, v))
            .collect();
        assert_round_trip(&samples);
        let s = series_of(&samples);
        let got = bits(s.iter());
        assert_eq!(got[0].1, STALE_NAN);
        assert_eq!(got[1].1, PLAIN_NAN);
        assert_ne!(got[8].1, got[9].1);
        assert_eq!(s.last().map(|(_, v)| v.to_bits()), Some(STALE_NAN));
    }

    #[test]
    fn chunk_refuses_bad_appends_without_change() {
        let mut c = chunk_of(&[(10, 1.0f64.to_bits()), (20, 2.0f64.to_bits())]);
        let before = bits(c.iter());
        assert_eq!(
            c.append(5, 3.0),
            Err(AppendError::OutOfOrder { last: 20, t: 5 })
        );
        assert_eq!(
            c.append(20, 2.0),
            Err(AppendError::DuplicateTimestamp { t: 20 })
        );
        assert_eq!(bits(c.iter()), before);
        for i in 2..MAX_SAMPLES_PER_CHUNK as i64 {
            c.append(10 + i * 10, 0.0).expect("append");
        }
        assert!(c.is_full());
        assert_eq!(c.append(i64::MAX, 0.0), Err(AppendError::ChunkFull));
        assert_eq!(c.len(), MAX_SAMPLES_PER_CHUNK);
        assert!(!AppendError::ChunkFull.to_string().is_empty());
    }

    #[test]
    fn series_duplicates_and_out_of_order() {
        let mut s = series_of(&[(10, STALE_NAN), (20, PLAIN_NAN)]);
        // Identical duplicate of the last sample: accepted, no-op.
        assert_eq!(s.append(20, f64::from_bits(PLAIN_NAN)), Ok(()));
        assert_eq!(s.len(), 2);
        // Same timestamp, other NaN payload: refused.
        assert_eq!(
            s.append(20, f64::from_bits(STALE_NAN)),
            Err(AppendError::DuplicateTimestamp { t: 20 })
        );
        // A duplicate of an older sample is out of order.
        assert_eq!(
            s.append(10, f64::from_bits(STALE_NAN)),
            Err(AppendError::OutOfOrder { last: 20, t: 10 })
        );
        assert_eq!(bits(s.iter()), vec![(10, STALE_NAN), (20, PLAIN_NAN)]);
    }

    #[test]
    fn rollover_into_closed_chunks() {
        let samples: Vec<_> = (0..1000i64)
            .map(|i| (i * 15_000, (i as f64 * 0.5).to_bits()))
            .collect();
        let s = series_of(&samples);
        assert_eq!(s.num_chunks(), 1000usize.div_ceil(MAX_SAMPLES_PER_CHUNK));
        assert_eq!(s.len(), 1000);
        assert_eq!(bits(s.iter()), samples);
        for c in &s.closed {
            assert_eq!(c.len(), MAX_SAMPLES_PER_CHUNK);
        }
        // Exactly full: the head stays full until the next append.
        let s = series_of(&samples[..MAX_SAMPLES_PER_CHUNK]);
        assert_eq!(s.num_chunks(), 1);
        let s = series_of(&samples[..=MAX_SAMPLES_PER_CHUNK]);
        assert_eq!(s.num_chunks(), 2);
        assert_eq!(s.head.len(), 1);
    }

    #[test]
    fn byte_len_counts_descriptors_and_buffers() {
        let samples: Vec<_> = (0..1000i64).map(|i| (i * 15_000, 7u64)).collect();
        let s = series_of(&samples);
        let expected = s.closed.capacity() * size_of::<ClosedChunk>()
            + s.closed.iter().map(|c| c.data.len()).sum::<usize>()
            + s.head.buf.capacity();
        assert_eq!(s.byte_len(), expected);
        assert!(s.byte_len() >= s.closed.len() * size_of::<ClosedChunk>());
    }

    #[test]
    fn truncate_before_drops_whole_chunks_only() {
        let n = 5 * MAX_SAMPLES_PER_CHUNK as i64 + 7;
        let samples: Vec<_> = (0..n).map(|i| (i * 10, i as u64)).collect();
        let mut s = series_of(&samples);
        let chunk_span = MAX_SAMPLES_PER_CHUNK as i64 * 10;
        assert_eq!(s.truncate_before(0), 0);
        // Cut in the middle of chunk 2: chunks 0 and 1 go, chunk 2 stays.
        let cut = 2 * chunk_span + 50;
        assert_eq!(s.truncate_before(cut), 2 * MAX_SAMPLES_PER_CHUNK);
        assert_eq!(s.first_time(), Some(2 * chunk_span));
        let expect: Vec<_> = samples
            .iter()
            .copied()
            .filter(|&(t, _)| t >= 2 * chunk_span)
            .collect();
        assert_eq!(bits(s.iter()), expect);
        assert_eq!(s.len(), expect.len());
        // Boundary: a chunk whose last_time == t is kept.
        let last_of_chunk2 = 3 * chunk_span - 10;
        assert_eq!(s.truncate_before(last_of_chunk2), 0);
        assert_eq!(s.truncate_before(last_of_chunk2 + 1), MAX_SAMPLES_PER_CHUNK);
        // Past everything: closed chunks go, the head stays.
        s.truncate_before(i64::MAX);
        assert_eq!(s.len(), 7);
        assert_eq!(s.num_chunks(), 1);
        assert_eq!(s.last(), Some(((n - 1) * 10, f64::from_bits(n as u64 - 1))));
        assert_eq!(
            s.append(0, 0.0),
            Err(AppendError::OutOfOrder {
                last: (n - 1) * 10,
                t: 0
            })
        );
        s.append(n * 10, 1.0).expect("append after truncate");
        assert_eq!(bits(s.range(0, n * 10)), {
            let mut v: Vec<_> = samples[samples.len() - 7..].to_vec();
            v.push((n * 10, 1.0f64.to_bits()));
            v
        });
    }

    #[test]
    fn range_boundaries_are_inclusive() {
        let samples: Vec<_> = (0..400i64).map(|i| (i * 100, i as u64)).collect();
        let s = series_of(&samples);
        let r = |a, b| bits(s.range(a, b));
        assert_eq!(r(100, 300), vec![(100, 1), (200, 2), (300, 3)]);
        assert_eq!(r(101, 299), vec![(200, 2)]);
        assert_eq!(r(300, 300), vec![(300, 3)]);
        assert_eq!(r(301, 399), vec![]);
        assert_eq!(r(300, 100), vec![]);
        // Across a chunk boundary (120 samples per chunk).
        assert_eq!(r(11_900, 12_000), vec![(11_900, 119), (12_000, 120)]);
        assert_eq!(r(39_900, i64::MAX), vec![(39_900, 399)]);
        assert_eq!(r(i64::MIN, 0), vec![(0, 0)]);
        assert_eq!(r(i64::MIN, -1), vec![]);
        assert_eq!(r(40_000, i64::MAX), vec![]);
        assert_eq!(r(i64::MIN, i64::MAX).len(), 400);
    }

    #[test]
    fn xor_window_edge_cases() {
        // Full-width XOR (64 meaningful bits), tiny XOR (leading zeros capped
        // at 31), and window reuse versus reopening.
        let values = [
            0,
            u64::MAX,
            0,
            1,
            3,
            2,
            1 << 63,
            (1 << 63) | 1,
            0xff00,
            0x0f00,
            0xf000_0000_0000_0000,
        ];
        let samples: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as i64, v))
            .collect();
        assert_round_trip(&samples);
    }

    #[test]
    fn integer_delta_edge_cases() {
        let two53 = 1i64 << 53;
        let values: Vec<f64> = vec![
            0.0,
            -0.0, // not representable as 0.0 + d: must fall back to XOR
            1.0,
            -0.0,
            5.0,
            1e6,
            0.0, // counter reset
            -(two53 as f64),
            two53 as f64, // d = 2^54, widest bucket
            (two53 - 1) as f64,
            -((two53 - 1) as f64),
            (two53 + 2) as f64, // beyond 2^53: XOR path
            1.5,
            2.0,
            f64::INFINITY,
            3.0,
            f64::from_bits(STALE_NAN),
            4.0,
            1e300,
            4.0,
        ];
        let samples: Vec<_> = values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64 * 15_000, v.to_bits()))
            .collect();
        assert_round_trip(&samples);
        assert_eq!(int_delta(0.0f64.to_bits(), (-0.0f64).to_bits()), None);
        assert_eq!(int_delta((-0.0f64).to_bits(), 1.0f64.to_bits()), Some(1));
        assert_eq!(int_delta(1.0f64.to_bits(), 1.5f64.to_bits()), None);
        assert_eq!(int_delta(1.0f64.to_bits(), f64::NAN.to_bits()), None);
    }

    #[test]
    fn small_integer_counter_is_compact() {
        let mut rng = Rng(7);
        let mut v = 123_456.0;
        let samples: Vec<_> = (0..120i64)
            .map(|i| {
                v += (1 + rng.below(9)) as f64;
                (i * 15_000, f64::to_bits(v))
            })
            .collect();
        let c = chunk_of(&samples);
        // 8 + 2 header bytes; then at most 1 timestamp bit + 9 value bits.
        assert!(
            c.encoded_len() <= 10 + (119 * 10usize).div_ceil(8),
            "{}",
            c.encoded_len()
        );
        assert_eq!(bits(c.iter()), samples);
    }

    #[test]
    fn regular_constant_series_is_tiny() {
        let samples: Vec<_> = (0..120i64)
            .map(|i| (1_700_000_000_000 + i * 15_000, 1.0f64.to_bits()))
            .collect();
        let c = chunk_of(&samples);
        // 8 bytes first value + 2 bytes first delta + 2 bits per sample.
        assert!(
            c.encoded_len() <= 8 + 2 + 1 + (2 * 118usize).div_ceil(8),
            "{}",
            c.encoded_len()
        );
    }

    #[test]
    fn corrupt_stream_ends_iteration_without_panic() {
        // Only reachable internally, but the decoder must stay total.
        let c = chunk_of(&[(0, 1), (15_000, 2), (30_000, 3)]);
        for cut in 0..c.buf.len() {
            let it = XorIter::new(&c.buf[..cut], 0, 3);
            assert!(it.count() <= 3);
        }
        let junk = [0xffu8; 64];
        assert!(XorIter::new(&junk, 0, 120).count() <= 120);
        let zeros = [0x00u8; 64];
        assert!(XorIter::new(&zeros, 0, 120).count() <= 120);
    }

    /// Bytes per sample for 100 series x 10,000 samples at 15 s.
    #[test]
    fn bytes_per_sample_report() {
        const SERIES: usize = 100;
        const SAMPLES: i64 = 10_000;
        let mut rng = Rng(0x5eed);
        // (heap bytes, inline bytes, samples) per pattern.
        let mut totals = [(0usize, 0usize, 0usize); 3];
        for series in 0..SERIES {
            let pattern = series % 3;
            let mut s = SeriesSamples::new();
            let start = 1_700_000_000_000 + rng.below(15_000) as i64;
            let constant = (rng.below(1000) as f64) / 10.0;
            let mut counter = rng.below(100_000) as f64;
            let mut expect_last = 0u64;
            for i in 0..SAMPLES {
                // ~5% of scrapes are a few ms late or early.
                let jitter = if rng.below(20) == 0 {
                    rng.below(11) as i64 - 5
                } else {
                    0
                };
                let t = start + i * 15_000 + jitter;
                let v = match pattern {
                    0 => constant,
                    1 => {
                        counter += rng.below(10) as f64;
                        counter
                    }
                    _ => rng.below(10_000) as f64 / 100.0,
                };
                s.append(t, v).expect("append");
                expect_last = v.to_bits();
            }
            assert_eq!(s.len(), SAMPLES as usize);
            assert_eq!(s.iter().count(), SAMPLES as usize);
            assert_eq!(s.last().map(|(_, v)| v.to_bits()), Some(expect_last));
            let tot = &mut totals[pattern];
            tot.0 += s.byte_len();
            tot.1 += size_of::<SeriesSamples>();
            tot.2 += s.len();
        }
        let names = ["constant", "counter", "gauge (2 decimals)"];
        for (name, (heap, inline, n)) in names.iter().zip(totals) {
            println!(
                "{name:>20}: {:.3} bytes/sample heap, {:.3} incl. inline struct ({n} samples)",
                heap as f64 / n as f64,
                (heap + inline) as f64 / n as f64,
            );
        }
        let (heap, inline, n) = totals[..2]
            .iter()
            .fold((0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        let bps = (heap + inline) as f64 / n as f64;
        println!(
            "{:>20}: {bps:.3} bytes/sample incl. inline struct",
            "constant+counter"
        );
        assert!(bps < 2.0, "constant+counter {bps} bytes/sample");
        for (heap, inline, n) in &totals[..2] {
            assert!(((heap + inline) as f64 / *n as f64) < 2.0);
        }
    }

    fn gap() -> impl Strategy<Value = u64> {
        prop_oneof![
            4 => Just(15_000u64),
            3 => 14_990u64..15_010,
            2 => 1u64..2_000,
            1 => 1u64..(1 << 40),
            1 => any::<u64>(),
        ]
    }

    fn value() -> impl Strategy<Value = u64> {
        prop_oneof![
            3 => any::<u64>(),
            3 => (0u32..16).prop_map(|x| f64::from(x).to_bits()),
            2 => any::<i32>().prop_map(|x| f64::from(x).to_bits()),
            1 => (-(1i64 << 54)..(1i64 << 54)).prop_map(|x| (x as f64).to_bits()),
            1 => (0u32..10_000).prop_map(|x| (f64::from(x) / 100.0).to_bits()),
            1 => prop::sample::select(vec![
                STALE_NAN,
                PLAIN_NAN,
                0.0f64.to_bits(),
                (-0.0f64).to_bits(),
                f64::INFINITY.to_bits(),
                f64::NEG_INFINITY.to_bits(),
                0,
                u64::MAX,
            ]),
        ]
    }

    /// Strictly increasing timestamps with arbitrary value bits.
    fn samples(max: usize) -> impl Strategy<Value = Vec<(i64, u64)>> {
        let start = prop_oneof![any::<i64>(), Just(i64::MIN), -(1i64 << 45)..(1i64 << 45),];
        (start, prop::collection::vec((gap(), value()), 0..=max)).prop_map(|(start, raw)| {
            let mut out: Vec<(i64, u64)> = Vec::with_capacity(raw.len());
            let mut t = start;
            for (g, v) in raw {
                if let Some(&(last, _)) = out.last() {
                    match last.checked_add_unsigned(g) {
                        Some(next) => t = next,
                        None => break,
                    }
                }
                out.push((t, v));
            }
            out
        })
    }

    proptest! {
        #[test]
        fn prop_chunk_round_trip(s in samples(MAX_SAMPLES_PER_CHUNK)) {
            let c = chunk_of(&s);
            prop_assert_eq!(bits(c.iter()), s.clone());
            prop_assert_eq!(c.len(), s.len());
            prop_assert_eq!(c.first_time(), s.first().map(|x| x.0));
            prop_assert_eq!(c.last_time(), s.last().map(|x| x.0));
            prop_assert_eq!(c.is_full(), s.len() == MAX_SAMPLES_PER_CHUNK);
        }

        #[test]
        fn prop_series_round_trip(s in samples(700)) {
            let series = series_of(&s);
            prop_assert_eq!(bits(series.range(i64::MIN, i64::MAX)), s.clone());
            prop_assert_eq!(series.len(), s.len());
            prop_assert_eq!(series.last().map(|(t, v)| (t, v.to_bits())), s.last().copied());
        }

        #[test]
        fn prop_range_equals_filter(
            s in samples(400),
            a in any::<i64>(),
            b in any::<i64>(),
            ia in any::<prop::sample::Index>(),
            ib in any::<prop::sample::Index>(),
            from_data in any::<bool>(),
        ) {
            let (mint, maxt) = if from_data && !s.is_empty() {
                let (x, y) = (s[ia.index(s.len())].0, s[ib.index(s.len())].0);
                (x.min(y), x.max(y))
            } else {
                (a, b)
            };
            let series = series_of(&s);
            let want: Vec<_> = s.iter().copied().filter(|&(t, _)| mint <= t && t <= maxt).collect();
            prop_assert_eq!(bits(series.range(mint, maxt)), want);
        }

        #[test]
        fn prop_refused_appends_change_nothing(s in samples(300), back in 0u64..1_000_000, v in value()) {
            prop_assume!(!s.is_empty());
            let mut series = series_of(&s);
            let last = s[s.len() - 1].0;
            let t = last.saturating_sub_unsigned(back);
            let res = series.append(t, f64::from_bits(v));
            let identical_dup = t == last && v == s[s.len() - 1].1;
            prop_assert_eq!(res.is_ok(), identical_dup);
            prop_assert_eq!(bits(series.iter()), s);
        }

        #[test]
        fn prop_truncate_keeps_everything_at_or_after(s in samples(500), ix in any::<prop::sample::Index>()) {
            prop_assume!(!s.is_empty());
            let cut = s[ix.index(s.len())].0;
            let mut series = series_of(&s);
            let dropped = series.truncate_before(cut);
            let got = bits(series.iter());
            prop_assert_eq!(got.len() + dropped, s.len());
            let want: Vec<_> = s.iter().copied().filter(|&(t, _)| t >= cut).collect();
            prop_assert_eq!(&got[got.len() - want.len()..], &want[..]);
            prop_assert_eq!(got.as_slice(), &s[dropped..]);
        }
    }
}
