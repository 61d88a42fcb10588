//! The transcoder: src/decode/transcode.ts in Rust, check for check and byte for byte. It reads a
//! JSON-RPC answer of `eth_getBlockByNumber(n, true)` + `eth_getBlockReceipts(n)` pairs once,
//! keeps where each field's value lies (offsets into the body), then writes each table's COPY
//! binary tuples (PostgreSQL "COPY … FROM STDIN WITH (FORMAT binary)", the tuple format of
//! https://www.postgresql.org/docs/current/sql-copy.html) from those offsets. It gives up (an
//! `Err` with the reason) wherever the JavaScript transcoder gives up, and in a few more places
//! (values in `extra` that `JSON.stringify(JSON.parse(…))` would rewrite, nesting deeper than
//! 64): the caller then runs the JavaScript transcoder, whose output is the general path's.
//! Comments name the JavaScript functions each part follows.

use std::borrow::Cow;

/// Why the transcoder gave up on an answer.
pub type Give = Cow<'static, str>;
type R<T> = Result<T, Give>;

macro_rules! give {
    ($why:expr) => {
        return Err(Cow::from($why))
    };
}

/// Buffers kept from answer to answer (one set per thread): the output and the parser's records.
#[derive(Default)]
pub struct Scratch {
    /// COPY binary tuples of the blocks, transactions, logs and withdrawals tables (BATCH_TABLES order).
    pub tables: [Vec<u8>; 4],
    /// Rows in each table.
    pub counts: [u32; 4],
    /// Per block of the answer: start and end in the body of its hash, then of its parent hash.
    pub hashes: Vec<[usize; 4]>,
    slots: Vec<i32>,
    others: Vec<i32>,
    spans: Vec<i32>,
    limbs: Vec<u64>,
    keys: Vec<(usize, usize)>,
}

impl Scratch {
    /// Lets go of the buffers that grew beyond `bytes` (capacity in bytes) for an exceptional answer.
    pub fn shrink(&mut self, bytes: usize) {
        for table in self.tables.iter_mut() {
            if table.capacity() > bytes {
                *table = Vec::new();
            }
        }
        for ints in [&mut self.slots, &mut self.others, &mut self.spans] {
            if ints.capacity() * 4 > bytes {
                *ints = Vec::new();
            }
        }
        if self.keys.capacity() * 16 > bytes {
            self.keys = Vec::new();
        }
        if self.limbs.capacity() * 8 > bytes {
            self.limbs = Vec::new();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fields: each object kind's standard fields, by id (transcode.ts's BLOCK, TX, …).
// ---------------------------------------------------------------------------------------------

macro_rules! kind {
    ($module:ident [$($id:ident = $name:literal),* $(,)?]) => {
        #[allow(non_upper_case_globals, dead_code)]
        mod $module {
            pub const NAMES: &[&str] = &[$($name),*];
            kind!(@ids 0usize; $($id),*);
        }
    };
    (@ids $n:expr; $first:ident $(, $rest:ident)*) => {
        pub const $first: usize = $n;
        kind!(@ids $n + 1usize; $($rest),*);
    };
    (@ids $n:expr;) => {};
}

kind!(b [number = "number", hash = "hash", parentHash = "parentHash", timestamp = "timestamp", miner = "miner",
    gasLimit = "gasLimit", gasUsed = "gasUsed", baseFeePerGas = "baseFeePerGas", difficulty = "difficulty",
    totalDifficulty = "totalDifficulty", size = "size", nonce = "nonce", mixHash = "mixHash", sha3Uncles = "sha3Uncles",
    logsBloom = "logsBloom", transactionsRoot = "transactionsRoot", stateRoot = "stateRoot", receiptsRoot = "receiptsRoot",
    extraData = "extraData", withdrawalsRoot = "withdrawalsRoot", blobGasUsed = "blobGasUsed", excessBlobGas = "excessBlobGas",
    parentBeaconBlockRoot = "parentBeaconBlockRoot", requestsHash = "requestsHash", uncles = "uncles",
    transactions = "transactions", withdrawals = "withdrawals"]);
kind!(t [hash = "hash", blockHash = "blockHash", blockNumber = "blockNumber", transactionIndex = "transactionIndex",
    type_ = "type", nonce = "nonce", from = "from", to = "to", value = "value", gas = "gas", gasPrice = "gasPrice",
    maxFeePerGas = "maxFeePerGas", maxPriorityFeePerGas = "maxPriorityFeePerGas", maxFeePerBlobGas = "maxFeePerBlobGas",
    blobVersionedHashes = "blobVersionedHashes", input = "input", chainId = "chainId", v = "v", r = "r", s = "s",
    yParity = "yParity", accessList = "accessList", authorizationList = "authorizationList"]);
kind!(r [transactionHash = "transactionHash", transactionIndex = "transactionIndex", blockHash = "blockHash",
    blockNumber = "blockNumber", from = "from", to = "to", cumulativeGasUsed = "cumulativeGasUsed", gasUsed = "gasUsed",
    effectiveGasPrice = "effectiveGasPrice", contractAddress = "contractAddress", logs = "logs", logsBloom = "logsBloom",
    status = "status", root = "root", type_ = "type", blobGasUsed = "blobGasUsed", blobGasPrice = "blobGasPrice"]);
kind!(l [address = "address", topics = "topics", data = "data", blockNumber = "blockNumber", blockHash = "blockHash",
    transactionHash = "transactionHash", transactionIndex = "transactionIndex", logIndex = "logIndex", removed = "removed"]);
kind!(w [index = "index", validatorIndex = "validatorIndex", address = "address", amount = "amount"]);
kind!(i [jsonrpc = "jsonrpc", id = "id", result = "result", error = "error"]);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Block,
    Tx,
    Receipt,
    Log,
    Withdrawal,
    Item,
}

impl Kind {
    fn names(self) -> &'static [&'static str] {
        match self {
            Kind::Block => b::NAMES,
            Kind::Tx => t::NAMES,
            Kind::Receipt => r::NAMES,
            Kind::Log => l::NAMES,
            Kind::Withdrawal => w::NAMES,
            Kind::Item => i::NAMES,
        }
    }

    /// Whether a string value of field `id` is hex data or a quantity whose every byte the writer
    /// checks (so the scanner need not); the others' bytes the scanner checks.
    fn hex(self, id: usize) -> bool {
        match self {
            Kind::Block => !matches!(id, b::uncles | b::transactions | b::withdrawals),
            Kind::Tx => !matches!(id, t::blockNumber | t::blobVersionedHashes | t::accessList | t::authorizationList),
            Kind::Receipt => id != r::logs,
            Kind::Log => !matches!(id, l::topics | l::blockNumber | l::removed),
            Kind::Withdrawal => true,
            Kind::Item => false,
        }
    }

    /// The kind of the objects of field `id` when it holds an array of objects.
    fn object_array(self, id: usize) -> Option<Kind> {
        match (self, id) {
            (Kind::Block, b::transactions) => Some(Kind::Tx),
            (Kind::Block, b::withdrawals) => Some(Kind::Withdrawal),
            (Kind::Receipt, r::logs) => Some(Kind::Log),
            _ => None,
        }
    }

    /// Whether field `id`, when an array, is read as an array of strings (spans kept).
    fn string_array(self, id: usize) -> bool {
        matches!((self, id), (Kind::Block, b::uncles) | (Kind::Tx, t::blobVersionedHashes) | (Kind::Log, l::topics))
    }

    /// Id of the standard field named `key`, if any (transcode.ts's `fieldId`).
    fn field_id(self, key: &[u8]) -> Option<usize> {
        self.names().iter().position(|name| same_bytes(name.as_bytes(), key))
    }
}

/// Kind of a value a slot holds (ABSENT: the field is absent).
const ABSENT: i32 = 0;
const STRING: i32 = 1;
const NULL: i32 = 2;
const TRUE: i32 = 3;
const FALSE: i32 = 4;
const NUMBER: i32 = 5;
const ARRAY: i32 = 6;
const OBJECT: i32 = 7;

/// A parsed object is the offset of its record in `slots`: HEADER ints (next sibling in a list,
/// first and last of its unknown fields), then three per standard field: kind, start and end of
/// its value (a string's without the quotes; for a list, its first object or span and the count).
const HEADER: usize = 3;
const NEXT: usize = 0;
const FIRST_OTHER: usize = 1;
const LAST_OTHER: usize = 2;
// Unknown fields are 6 ints each in `others`: next, key start, key end, value start, value end
// (with a string's quotes), value kind.
/// Hex digits of the longest quantity written (block data's are at most 64: 256 bits).
const MAX_QUANTITY_DIGITS: usize = 256;
/// Nesting deeper than this in a value the transcoder skips or copies makes it give up.
const MAX_DEPTH: u32 = 64;
/// `$absent`: rows.ts's ABSENT_FIELDS, the key of `extra` that lists defaulted fields a client left out.
const ABSENT_FIELDS: &str = "$absent";

const fn nibbles() -> [i8; 256] {
    let mut table = [-1i8; 256];
    let mut c = 0;
    while c < 10 {
        table[48 + c] = c as i8;
        c += 1;
    }
    let mut c = 0;
    while c < 6 {
        table[97 + c] = 10 + c as i8;
        table[65 + c] = 10 + c as i8;
        c += 1;
    }
    table
}
/// Nibble of each hex digit byte; -1 for any other byte.
static NIBBLE: [i8; 256] = nibbles();

fn key_first(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$'
}
fn key_rest(c: u8) -> bool {
    key_first(c) || c.is_ascii_digit()
}

// ---------------------------------------------------------------------------------------------
// The scanner (transcode.ts's Scanner)
// ---------------------------------------------------------------------------------------------

struct Scan<'a> {
    b: &'a [u8],
    p: usize,
    slots: &'a mut Vec<i32>,
    others: &'a mut Vec<i32>,
    spans: &'a mut Vec<i32>,
    key_start: usize,
    key_end: usize,
    list_count: i32,
    depth: u32,
    /// Per kind, per field id (and NO_FIELD for the first key): the id of the key that followed it last.
    guesses: [[u8; NO_FIELD + 1]; 6],
}

/// The "previous key" of an object's first key, and of a key after an unknown one, in `guesses`.
const NO_FIELD: usize = 31;

impl<'a> Scan<'a> {
    #[inline(always)]
    fn at(&self, p: usize) -> u8 {
        if p < self.b.len() {
            self.b[p]
        } else {
            0
        }
    }

    #[inline(always)]
    fn ws(&mut self) {
        while matches!(self.at(self.p), b' ' | b'\n' | b'\r' | b'\t') {
            self.p += 1;
        }
    }

    fn expect(&mut self, c: u8) -> R<()> {
        self.ws();
        if self.at(self.p) != c {
            give!(format!("expected {} at byte {}", c as char, self.p));
        }
        self.p += 1;
        Ok(())
    }

    #[inline(always)]
    fn take(&mut self, c: u8) -> bool {
        self.ws();
        if self.at(self.p) != c {
            return false;
        }
        self.p += 1;
        true
    }

    /// A string at `p` (its opening quote): the end of its content; `p` after its closing quote.
    /// Gives up on a byte of 0x80 or over in it (so every byte of an answer it takes is ASCII), and
    /// on an escape or a control byte; with `checked` false, on an escape only when a backslash is
    /// before the closing quote (for hex data and quantities, whose bytes the writer checks).
    fn string(&mut self, checked: bool) -> R<usize> {
        let start = self.p + 1;
        let rest = self.b.get(start..).unwrap_or(&[]);
        let found = quote_and_escapes(rest);
        let end = match found.end {
            Some(n) => start + n,
            None => give!("a string does not end"),
        };
        if !found.ascii {
            give!("a string has a byte that is not ASCII");
        }
        if checked && !found.plain {
            give!("a string has an escape or a control character");
        }
        if !checked && self.b[end - 1] == b'\\' {
            give!("a string has an escape");
        }
        self.p = end + 1;
        Ok(end)
    }

    fn deeper(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            give!("a value nested too deep");
        }
        Ok(())
    }

    /// Skips any JSON value at `p` (after whitespace); returns its kind. Its span is `[start, p)`.
    fn value(&mut self) -> R<i32> {
        self.ws();
        match self.at(self.p) {
            b'"' => {
                self.string(true)?;
                Ok(STRING)
            }
            b'[' => {
                self.deeper()?;
                self.p += 1;
                if !self.take(b']') {
                    loop {
                        self.value()?;
                        if !self.take(b',') {
                            break;
                        }
                    }
                    self.expect(b']')?;
                }
                self.depth -= 1;
                Ok(ARRAY)
            }
            b'{' => {
                self.deeper()?;
                self.p += 1;
                if !self.take(b'}') {
                    loop {
                        self.ws();
                        if self.at(self.p) != b'"' {
                            give!("an object key is not a string");
                        }
                        self.string(true)?;
                        self.expect(b':')?;
                        self.value()?;
                        if !self.take(b',') {
                            break;
                        }
                    }
                    self.expect(b'}')?;
                }
                self.depth -= 1;
                Ok(OBJECT)
            }
            _ => {
                if self.word(b"null") {
                    return Ok(NULL);
                }
                if self.word(b"true") {
                    return Ok(TRUE);
                }
                if self.word(b"false") {
                    return Ok(FALSE);
                }
                // A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
                let mut p = self.p;
                if self.at(p) == b'-' {
                    p += 1;
                }
                let int_start = p;
                while self.at(p).is_ascii_digit() {
                    p += 1;
                }
                if p == int_start || (self.at(int_start) == b'0' && p - int_start > 1) {
                    give!(format!("no JSON value at byte {}", self.p));
                }
                if self.at(p) == b'.' {
                    p += 1;
                    let from = p;
                    while self.at(p).is_ascii_digit() {
                        p += 1;
                    }
                    if p == from {
                        give!("a number has no fraction digits");
                    }
                }
                if matches!(self.at(p), b'e' | b'E') {
                    p += 1;
                    if matches!(self.at(p), b'+' | b'-') {
                        p += 1;
                    }
                    let from = p;
                    while self.at(p).is_ascii_digit() {
                        p += 1;
                    }
                    if p == from {
                        give!("a number has no exponent digits");
                    }
                }
                self.p = p;
                Ok(NUMBER)
            }
        }
    }

    fn word(&mut self, w: &[u8]) -> bool {
        if self.b.get(self.p..self.p + w.len()) == Some(w) {
            self.p += w.len();
            return true;
        }
        false
    }

    /// A key of an object of kind `kind`, its colon and the whitespace after: the key's field id
    /// (None: not a standard field), its span in key_start/key_end.
    fn key(&mut self, kind: Kind, previous: usize) -> R<Option<usize>> {
        self.ws();
        if self.at(self.p) != b'"' {
            give!("an object key is not a string");
        }
        self.key_start = self.p + 1;
        self.key_end = self.string(true)?;
        let key = &self.b[self.key_start..self.key_end];
        // Clients send an object kind's keys in the same order every time: try the key that came
        // after `previous` last time before looking through the names.
        let guess = &mut self.guesses[kind as usize][previous];
        let names = kind.names();
        let id = if (*guess as usize) < names.len() && same_bytes(names[*guess as usize].as_bytes(), key) {
            Some(*guess as usize)
        } else {
            let id = kind.field_id(key);
            if let Some(id) = id {
                *guess = id as u8;
            }
            id
        };
        self.expect(b':')?;
        self.ws();
        Ok(id)
    }

    /// An array of objects of kind `kind` at `p` (its `[`), linked as siblings: the first (-1
    /// when none); their count in list_count.
    fn objects(&mut self, kind: Kind) -> R<i32> {
        let (mut first, mut last, mut count) = (-1i32, -1i32, 0i32);
        self.p += 1;
        self.deeper()?;
        if !self.take(b']') {
            loop {
                self.ws();
                if self.at(self.p) != b'{' {
                    give!(format!("an array of {}… objects holds something else", kind.names()[0]));
                }
                let child = self.object(kind)? as i32;
                if last < 0 {
                    first = child;
                } else {
                    self.slots[last as usize + NEXT] = child;
                }
                last = child;
                count += 1;
                if !self.take(b',') {
                    break;
                }
            }
            self.expect(b']')?;
        }
        self.depth -= 1;
        self.list_count = count;
        Ok(first)
    }

    /// An object of kind `kind` at `p` (after whitespace). Gives up on a repeated key.
    fn object(&mut self, kind: Kind) -> R<usize> {
        let size = HEADER + 3 * kind.names().len();
        let o = self.slots.len();
        self.slots.resize(o + size, 0);
        self.slots[o + NEXT] = -1;
        self.slots[o + FIRST_OTHER] = -1;
        self.slots[o + LAST_OTHER] = -1;
        self.expect(b'{')?;
        self.deeper()?;
        if self.take(b'}') {
            self.depth -= 1;
            return Ok(o);
        }
        let mut previous = NO_FIELD;
        loop {
            let id = self.key(kind, previous)?;
            previous = id.unwrap_or(NO_FIELD);
            let (key_start, key_end) = (self.key_start, self.key_end);
            let value_start = self.p;
            match id {
                None => {
                    let value_kind = self.value()?;
                    let e = self.others.len() as i32;
                    self.others.extend_from_slice(&[-1, key_start as i32, key_end as i32, value_start as i32, self.p as i32, value_kind]);
                    if self.slots[o + LAST_OTHER] < 0 {
                        self.slots[o + FIRST_OTHER] = e;
                    } else {
                        let last = self.slots[o + LAST_OTHER] as usize;
                        self.others[last] = e;
                    }
                    self.slots[o + LAST_OTHER] = e;
                }
                Some(id) => {
                    let at = o + HEADER + 3 * id;
                    if self.slots[at] != ABSENT {
                        give!(format!("field {} twice", kind.names()[id]));
                    }
                    let first_byte = self.at(value_start);
                    let child = kind.object_array(id);
                    if child.is_some() && first_byte == b'[' {
                        let first = self.objects(child.unwrap())?;
                        self.slots[at] = ARRAY;
                        self.slots[at + 1] = first;
                        self.slots[at + 2] = self.list_count;
                    } else if kind.string_array(id) && first_byte == b'[' {
                        // A string array does not nest: its spans are contiguous.
                        let first = self.spans.len() as i32;
                        self.p += 1;
                        self.deeper()?;
                        if !self.take(b']') {
                            loop {
                                self.ws();
                                if self.at(self.p) != b'"' {
                                    give!(format!("{} holds something other than strings", kind.names()[id]));
                                }
                                let start = self.p + 1;
                                let end = self.string(false)?; // hex data, each byte checked when written
                                self.spans.push(start as i32);
                                self.spans.push(end as i32);
                                if !self.take(b',') {
                                    break;
                                }
                            }
                            self.expect(b']')?;
                        }
                        self.depth -= 1;
                        self.slots[at] = ARRAY;
                        self.slots[at + 1] = first;
                        self.slots[at + 2] = (self.spans.len() as i32 - first) / 2;
                    } else if first_byte == b'"' {
                        let end = self.string(!kind.hex(id))?;
                        self.slots[at] = STRING;
                        self.slots[at + 1] = value_start as i32 + 1;
                        self.slots[at + 2] = end as i32;
                    } else {
                        let value_kind = self.value()?;
                        self.slots[at] = value_kind;
                        self.slots[at + 1] = value_start as i32;
                        self.slots[at + 2] = self.p as i32;
                    }
                }
            }
            if !self.take(b',') {
                break;
            }
        }
        self.expect(b'}')?;
        self.depth -= 1;
        if self.slots[o + FIRST_OTHER] >= 0 {
            self.check_other_keys(kind, self.slots[o + FIRST_OTHER])?;
        }
        Ok(o)
    }

    /// Gives up unless the unknown keys from entry `first` on are plain names (kept in `extra` in
    /// their order by V8 too) and none repeats (transcode.ts's `checkOtherKeys`).
    fn check_other_keys(&self, kind: Kind, first: i32) -> R<()> {
        let (b, others) = (self.b, &*self.others);
        let mut e = first;
        while e >= 0 {
            let (start, end) = (others[e as usize + 1] as usize, others[e as usize + 2] as usize);
            let key = &b[start..end];
            if key.is_empty() || !key_first(key[0]) || !key[1..].iter().all(|&c| key_rest(c)) {
                give!("an unknown key that is not a plain name");
            }
            if key == b"__proto__" {
                give!("a key __proto__");
            }
            if key == ABSENT_FIELDS.as_bytes() {
                give!(format!("a key {}", ABSENT_FIELDS));
            }
            e = others[e as usize];
        }
        if others[first as usize] < 0 {
            return Ok(()); // one unknown key (a client's usual addition): nothing to compare
        }
        let mut keys = Vec::new();
        let mut e = first;
        while e >= 0 {
            keys.push(&b[others[e as usize + 1] as usize..others[e as usize + 2] as usize]);
            e = others[e as usize];
        }
        if has_duplicate(&mut keys) {
            give!(format!("a key of {}'s object twice", kind.names()[0]));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Writing the tuples (transcode.ts's writeBlock, writeTransaction, writeLog, writeWithdrawal)
// ---------------------------------------------------------------------------------------------

/// Largest value of the typed columns narrower than a JS safe integer, as in rows.ts.
const INTEGER_MAX: i64 = 2_147_483_647;
const SMALLINT_MAX: i64 = 32_767;
const SAFE_MAX: i64 = 9_007_199_254_740_991;
/// Postgres's type oid of bytea, the element type of a bytea[] column.
const BYTEA_OID: i32 = 17;

/// Columns of each table, as TRANSCODED_COLUMNS (transcode.ts) has them.
const BLOCK_COLUMNS: i16 = 28;
const TX_COLUMNS: i16 = 38;
const LOG_COLUMNS: i16 = 13;
const WITHDRAWAL_COLUMNS: i16 = 9;

const BLOCKS: usize = 0;
const TRANSACTIONS: usize = 1;
const LOGS: usize = 2;
const WITHDRAWALS: usize = 3;

#[inline(always)]
fn int16(out: &mut Vec<u8>, v: i16) {
    out.extend_from_slice(&v.to_be_bytes());
}
#[inline(always)]
fn int32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}
/// An int8 field (length 8, then the value).
#[inline(always)]
fn put_int8(out: &mut Vec<u8>, v: i64) {
    int32(out, 8);
    out.extend_from_slice(&v.to_be_bytes());
}
fn put_int4(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => int32(out, -1),
        Some(v) => {
            int32(out, 4);
            int32(out, v as i32);
        }
    }
}
fn put_int2(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => int32(out, -1),
        Some(v) => {
            int32(out, 2);
            int16(out, v as i16);
        }
    }
}

struct Writer<'a> {
    b: &'a [u8],
    slots: &'a [i32],
    others: &'a [i32],
    spans: &'a [i32],
    limbs: &'a mut Vec<u64>,
    keys: &'a mut Vec<(usize, usize)>,
    chain_id: i64,
}

impl<'a> Writer<'a> {
    #[inline(always)]
    fn kind_of(&self, o: usize, id: usize) -> i32 {
        self.slots[o + HEADER + 3 * id]
    }
    #[inline(always)]
    fn start_of(&self, o: usize, id: usize) -> usize {
        self.slots[o + HEADER + 3 * id + 1] as usize
    }
    #[inline(always)]
    fn end_of(&self, o: usize, id: usize) -> usize {
        self.slots[o + HEADER + 3 * id + 2] as usize
    }
    /// Raw `slots` value: a list's first object (-1 when none) or a count.
    #[inline(always)]
    fn raw(&self, o: usize, id: usize, which: usize) -> i32 {
        self.slots[o + HEADER + 3 * id + which]
    }
    #[inline(always)]
    fn next(&self, o: i32) -> i32 {
        self.slots[o as usize + NEXT]
    }

    /// The value of the hex quantity in `b[start..end)` (`0x` and 1 to 13 digits); -1 when it
    /// has more digits; gives up when it is not a hex quantity (`smallQuantity`).
    fn small_quantity(&self, start: usize, end: usize) -> R<i64> {
        let b = self.b;
        if end - start < 3 || b[start] != b'0' || b[start + 1] != b'x' {
            give!("a quantity that is not 0x hex");
        }
        if end - start > 15 {
            if b[start + 2..end].iter().any(|&c| NIBBLE[c as usize] < 0) {
                give!("a quantity with a digit that is not hex");
            }
            return Ok(-1);
        }
        let mut n: i64 = 0;
        for &c in &b[start + 2..end] {
            let d = NIBBLE[c as usize];
            if d < 0 {
                give!("a quantity with a digit that is not hex");
            }
            n = n * 16 + d as i64;
        }
        Ok(n)
    }

    /// A standard quantity of a narrow column (`narrow`): None when absent; gives up where the
    /// general path would keep the value in `extra`.
    fn narrow(&self, o: usize, id: usize, max: i64) -> R<Option<i64>> {
        let kind = self.kind_of(o, id);
        if kind == ABSENT {
            return Ok(None);
        }
        if kind != STRING {
            give!("a quantity that is not a string");
        }
        let n = self.small_quantity(self.start_of(o, id), self.end_of(o, id))?;
        if n < 0 || n > max {
            give!("a quantity too large for its column");
        }
        Ok(Some(n))
    }

    /// A quantity the general path reads with `Number(BigInt(…))` (`required`).
    fn required(&self, o: usize, id: usize) -> R<i64> {
        if self.kind_of(o, id) != STRING {
            give!("a required quantity is missing");
        }
        let n = self.small_quantity(self.start_of(o, id), self.end_of(o, id))?;
        if n < 0 {
            give!("a required quantity too long");
        }
        Ok(n)
    }

    /// Writes the hex quantity in `b[start..end)` (`0x` and at least one digit, all checked) as a
    /// numeric in COPY binary: ndigits, weight, sign, dscale, then base-10,000 digits, most
    /// significant first, trailing zero digits left out (`writeHexNumeric`; Postgres's
    /// numeric_send).
    fn write_hex_numeric(&mut self, out: &mut Vec<u8>, start: usize, end: usize) {
        let digits = &self.b[start + 2..end];
        let limbs = &mut *self.limbs;
        limbs.clear();
        if digits.len() <= 16 {
            let mut value: u64 = 0;
            for &c in digits {
                value = (value << 4) | NIBBLE[c as usize] as u64;
            }
            while value > 0 {
                limbs.push(value % 10_000);
                value /= 10_000;
            }
        } else {
            // 8 hex digits at a time: 9,999 × 2^32 plus a carry stays far below 2^64.
            let mut i = 0;
            let mut chunk = if digits.len() % 8 == 0 { 8 } else { digits.len() % 8 };
            while i < digits.len() {
                let mut carry: u64 = 0;
                for &c in &digits[i..i + chunk] {
                    carry = (carry << 4) | NIBBLE[c as usize] as u64;
                }
                let multiplier: u64 = 1 << (4 * chunk);
                i += chunk;
                chunk = 8;
                for limb in limbs.iter_mut() {
                    let x = *limb * multiplier + carry;
                    carry = x / 10_000;
                    *limb = x % 10_000;
                }
                while carry > 0 {
                    limbs.push(carry % 10_000);
                    carry /= 10_000;
                }
            }
        }
        let n = limbs.len();
        let low = limbs.iter().position(|&l| l != 0).unwrap_or(n);
        let used = n - low;
        int32(out, 8 + 2 * used as i32);
        int16(out, used as i16);
        int16(out, if used == 0 { 0 } else { n as i16 - 1 });
        int16(out, 0); // NUMERIC_POS
        int16(out, 0); // dscale
        for l in (low..n).rev() {
            int16(out, limbs[l] as i16);
        }
    }

    /// A standard quantity field into a numeric column (`writeQuantity`): NULL when absent; gives
    /// up where the general path would keep the value in `extra`.
    fn write_quantity(&mut self, out: &mut Vec<u8>, o: usize, id: usize) -> R<()> {
        let kind = self.kind_of(o, id);
        if kind == ABSENT {
            int32(out, -1);
            return Ok(());
        }
        if kind != STRING {
            give!("a quantity that is not a string");
        }
        let (start, end) = (self.start_of(o, id), self.end_of(o, id));
        if end - start > 2 + MAX_QUANTITY_DIGITS {
            give!("a quantity of more than 256 hex digits");
        }
        let b = self.b;
        if end - start < 3 || b[start] != b'0' || b[start + 1] != b'x' {
            give!("a quantity that is not 0x hex");
        }
        if b[start + 2..end].iter().any(|&c| NIBBLE[c as usize] < 0) {
            give!("a quantity with a digit that is not hex");
        }
        self.write_hex_numeric(out, start, end);
        Ok(())
    }

    /// Whether hex data in `b[start..end)` has `0x` and an even number of digits (`isEvenHex`).
    #[inline(always)]
    fn is_even_hex(&self, start: usize, end: usize) -> bool {
        let b = self.b;
        (end - start) % 2 == 0 && end - start >= 2 && b[start] == b'0' && b[start + 1] == b'x'
    }

    /// Writes bytea `b[start..end)` (`0x` hex data, even digits) (`writeHexBytes`); gives up on a
    /// digit that is not hex.
    fn write_hex_bytes(&self, out: &mut Vec<u8>, start: usize, end: usize) -> R<()> {
        let hex = &self.b[start + 2..end];
        int32(out, (hex.len() / 2) as i32);
        out.reserve(hex.len() / 2);
        // Whole groups of 32 digits with AVX2 where the CPU has it, then of 16 with SSE2 on x86-64
        // (every x86-64 has it); the rest, and all of it on other targets, pair by pair.
        #[cfg(target_arch = "x86_64")]
        let hex = {
            let mut hex = hex;
            if hex.len() >= 32 && has_avx2() {
                let simd = hex.len() / 32 * 32;
                // SAFETY: the CPU has AVX2 (checked above).
                if !unsafe { decode_hex_32s_avx2(&hex[..simd], out) } {
                    give!("hex data with a digit that is not hex");
                }
                hex = &hex[simd..];
            }
            let simd = hex.len() / 16 * 16;
            if !decode_hex_16s(&hex[..simd], out) {
                give!("hex data with a digit that is not hex");
            }
            &hex[simd..]
        };
        let mut bad = 0i16;
        out.extend(hex.chunks_exact(2).map(|pair| {
            let byte = PAIR[u16::from_le_bytes([pair[0], pair[1]]) as usize];
            bad |= byte;
            byte as u8
        }));
        if bad < 0 {
            give!("hex data with a digit that is not hex");
        }
        Ok(())
    }

    /// A hex-data field into a bytea column (`writeHexField`): NULL unless a string; gives up on
    /// odd digits or no `0x`.
    fn write_hex_field(&self, out: &mut Vec<u8>, o: usize, id: usize) -> R<()> {
        if self.kind_of(o, id) != STRING {
            int32(out, -1);
            return Ok(());
        }
        let (start, end) = (self.start_of(o, id), self.end_of(o, id));
        if !self.is_even_hex(start, end) {
            give!("hex data that is not 0x with even digits");
        }
        self.write_hex_bytes(out, start, end)
    }

    /// A hex-data field of a NOT NULL bytea column (`writeRequiredHex`).
    fn write_required_hex(&self, out: &mut Vec<u8>, o: usize, id: usize) -> R<()> {
        if self.kind_of(o, id) != STRING {
            give!("required hex data is missing");
        }
        self.write_hex_field(out, o, id)
    }

    /// A bytea[] column of the `count` strings whose spans start at `first` in `spans`
    /// (`writeHexArray`; Postgres's array_send).
    fn write_hex_array(&self, out: &mut Vec<u8>, first: usize, count: usize) -> R<()> {
        let spans = self.spans;
        let mut size: i32 = if count == 0 { 12 } else { 20 };
        for k in (first..first + 2 * count).step_by(2) {
            let (start, end) = (spans[k] as usize, spans[k + 1] as usize);
            if !self.is_even_hex(start, end) {
                give!("hex data that is not 0x with even digits");
            }
            size += 4 + ((end - start - 2) >> 1) as i32;
        }
        int32(out, size);
        int32(out, if count == 0 { 0 } else { 1 });
        int32(out, 0);
        int32(out, BYTEA_OID);
        if count == 0 {
            return Ok(());
        }
        int32(out, count as i32);
        int32(out, 1);
        for k in (first..first + 2 * count).step_by(2) {
            self.write_hex_bytes(out, spans[k] as usize, spans[k + 1] as usize)?;
        }
        Ok(())
    }

    /// Appends the JSON text of a value of kind `kind` at `b[start..end)` as
    /// `JSON.stringify(JSON.parse(raw))` gives it (`jsonOf`), for the values where that is the
    /// text itself without whitespace; gives up on the others (keys that are not plain names or
    /// repeat, numbers it would rewrite).
    fn json_of(&mut self, out: &mut Vec<u8>, kind: i32, start: usize, end: usize) -> R<()> {
        match kind {
            STRING => {
                out.push(b'"');
                out.extend_from_slice(&self.b[start..end]);
                out.push(b'"');
            }
            NULL => out.extend_from_slice(b"null"),
            TRUE => out.extend_from_slice(b"true"),
            FALSE => out.extend_from_slice(b"false"),
            _ => {
                let mut p = start;
                self.compact(out, &mut p, 0)?;
                if p != end {
                    give!("a value that does not end where it was read");
                }
            }
        }
        Ok(())
    }

    /// Copies the JSON value at `*p` (valid JSON, as the scanner read it) without whitespace.
    fn compact(&mut self, out: &mut Vec<u8>, p: &mut usize, depth: u32) -> R<()> {
        if depth > MAX_DEPTH {
            give!("a value nested too deep");
        }
        let b = self.b;
        skip_ws(b, p);
        match b[*p] {
            b'"' => {
                let end = *p + 1 + b[*p + 1..].iter().position(|&c| c == b'"').unwrap();
                out.extend_from_slice(&b[*p..=end]);
                *p = end + 1;
            }
            b'[' => {
                out.push(b'[');
                *p += 1;
                skip_ws(b, p);
                if b[*p] != b']' {
                    loop {
                        self.compact(out, p, depth + 1)?;
                        skip_ws(b, p);
                        if b[*p] != b',' {
                            break;
                        }
                        out.push(b',');
                        *p += 1;
                    }
                }
                out.push(b']');
                *p += 1;
            }
            b'{' => {
                out.push(b'{');
                *p += 1;
                skip_ws(b, p);
                let keys_from = self.keys.len();
                if b[*p] != b'}' {
                    loop {
                        skip_ws(b, p);
                        let start = *p + 1;
                        let end = start + b[start..].iter().position(|&c| c == b'"').unwrap();
                        let key = &b[start..end];
                        // V8 puts keys that are array indices first and treats __proto__ apart.
                        if is_array_index(key) || key == b"__proto__" {
                            give!("a nested key that is an array index or __proto__");
                        }
                        self.keys.push((start, end));
                        out.extend_from_slice(&b[start - 1..=end]);
                        out.push(b':');
                        *p = end + 1;
                        skip_ws(b, p);
                        *p += 1; // the colon
                        self.compact(out, p, depth + 1)?;
                        skip_ws(b, p);
                        if b[*p] != b',' {
                            break;
                        }
                        out.push(b',');
                        *p += 1;
                    }
                }
                let twice = spans_repeat(b, &self.keys[keys_from..]);
                self.keys.truncate(keys_from);
                if twice {
                    give!("a nested key twice");
                }
                out.push(b'}');
                *p += 1;
            }
            b'n' => {
                out.extend_from_slice(b"null");
                *p += 4;
            }
            b't' => {
                out.extend_from_slice(b"true");
                *p += 4;
            }
            b'f' => {
                out.extend_from_slice(b"false");
                *p += 5;
            }
            _ => {
                let start = *p;
                while *p < b.len() && matches!(b[*p], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    *p += 1;
                }
                let number = &b[start..*p];
                if !is_canonical_number(number) {
                    give!("a number JSON.stringify would write otherwise");
                }
                out.extend_from_slice(number);
            }
        }
        Ok(())
    }

    /// Appends a jsonb field (length, version byte 1, text) whose text `text` writes; writes NULL
    /// instead when `text` writes nothing.
    fn put_jsonb(&mut self, out: &mut Vec<u8>, text: impl FnOnce(&mut Self, &mut Vec<u8>) -> R<()>) -> R<()> {
        let at = out.len();
        int32(out, 0);
        out.push(1);
        text(self, out)?;
        let length = out.len() - at - 4;
        if length == 1 {
            out.truncate(at);
            int32(out, -1);
        } else {
            out[at..at + 4].copy_from_slice(&(length as i32).to_be_bytes());
        }
        Ok(())
    }

    /// The `extra` jsonb of object `o` (`extraOf`): its unknown fields in order, then `$absent`
    /// with the `defaulted` fields it lacks; NULL when neither.
    fn put_extra(&mut self, out: &mut Vec<u8>, o: usize, defaulted: &[usize], names: &[&str]) -> R<()> {
        let first = self.slots[o + FIRST_OTHER];
        let lacks = defaulted.iter().any(|&id| self.kind_of(o, id) == ABSENT);
        if first < 0 && !lacks {
            int32(out, -1);
            return Ok(());
        }
        self.put_jsonb(out, |w, out| {
            out.push(b'{');
            let mut e = first;
            let mut any = false;
            while e >= 0 {
                let entry = e as usize;
                let (ks, ke, vs, ve, kind) =
                    (w.others[entry + 1] as usize, w.others[entry + 2] as usize, w.others[entry + 3] as usize, w.others[entry + 4] as usize, w.others[entry + 5]);
                if any {
                    out.push(b',');
                }
                any = true;
                out.push(b'"');
                out.extend_from_slice(&w.b[ks..ke]);
                out.extend_from_slice(b"\":");
                if kind == STRING {
                    out.extend_from_slice(&w.b[vs..ve]); // with its quotes
                } else {
                    w.json_of(out, kind, vs, ve)?;
                }
                e = w.others[entry];
            }
            if lacks {
                if any {
                    out.push(b',');
                }
                out.extend_from_slice(b"\"$absent\":[");
                let mut first_name = true;
                for &id in defaulted {
                    if w.kind_of(o, id) == ABSENT {
                        if !first_name {
                            out.push(b',');
                        }
                        first_name = false;
                        out.push(b'"');
                        out.extend_from_slice(names[id].as_bytes());
                        out.push(b'"');
                    }
                }
                out.push(b']');
            }
            out.push(b'}');
            Ok(())
        })
    }

    /// Whether spans `[a, a_end)` and `[c, c_end)` hold the same bytes.
    #[inline(always)]
    fn same(&self, a: usize, a_end: usize, c: usize, c_end: usize) -> bool {
        same_bytes(&self.b[a..a_end], &self.b[c..c_end])
    }

    /// Whether the spans hold the same text, ignoring the case of letters (`sameIgnoringCase`).
    fn same_ignoring_case(&self, a: usize, a_end: usize, c: usize, c_end: usize) -> bool {
        if a_end - a != c_end - c {
            return false;
        }
        self.b[a..a_end].iter().zip(&self.b[c..c_end]).all(|(&x, &y)| x == y || ((x | 0x20) == (y | 0x20) && (x | 0x20).is_ascii_lowercase()))
    }

    /// `0x` then zeros only (a zero logs bloom).
    fn is_zero_bloom(&self, start: usize, end: usize) -> bool {
        let b = self.b;
        end - start >= 2 && b[start] == b'0' && b[start + 1] == b'x' && b[start + 2..end].iter().all(|&c| c == b'0')
    }

    /// Checks one block with its receipts as validateBlock/validateReceipts would pass them, and
    /// writes its rows (`writeBlock`). Returns the spans of its hash and parent hash.
    fn write_block(&mut self, tables: &mut [Vec<u8>; 4], counts: &mut [u32; 4], block: usize, first_receipt: i32, receipt_count: i32, requested: i64) -> R<[usize; 4]> {
        for id in [b::number, b::hash, b::parentHash, b::timestamp, b::logsBloom] {
            if self.kind_of(block, id) != STRING {
                give!(format!("block field {} missing", b::NAMES[id]));
            }
        }
        let number = self.required(block, b::number)?;
        if number != requested {
            give!("a block other than the one asked");
        }
        if self.kind_of(block, b::transactions) != ARRAY {
            give!("transactions missing or not objects");
        }
        let first_tx = self.raw(block, b::transactions, 1);
        let tx_count = self.raw(block, b::transactions, 2);
        if receipt_count != tx_count {
            give!("not one receipt per transaction");
        }
        let (hash_start, hash_end) = (self.start_of(block, b::hash), self.end_of(block, b::hash));
        let (number_start, number_end) = (self.start_of(block, b::number), self.end_of(block, b::number));
        if !self.is_even_hex(hash_start, hash_end) {
            give!("a block hash that is not even hex");
        }
        // Checks first: the general path refuses or keeps aside what these give up on.
        let mut log_count = 0i32;
        let (mut previous_tx_index, mut previous_log_index) = (-1i64, -1i64);
        let mut bloom_without_logs = false; // a receipt without logs whose own logsBloom is not zero
        let (mut tx, mut receipt) = (first_tx, first_receipt);
        while tx >= 0 {
            let (x, y) = (tx as usize, receipt as usize);
            if self.kind_of(x, t::hash) != STRING || self.kind_of(y, r::transactionHash) != STRING {
                give!("a transaction or receipt without a hash");
            }
            if !self.same(self.start_of(x, t::hash), self.end_of(x, t::hash), self.start_of(y, r::transactionHash), self.end_of(y, r::transactionHash)) {
                give!("receipts not in transaction order");
            }
            if self.kind_of(x, t::transactionIndex) != STRING
                || self.kind_of(y, r::transactionIndex) != STRING
                || !self.same(self.start_of(x, t::transactionIndex), self.end_of(x, t::transactionIndex), self.start_of(y, r::transactionIndex), self.end_of(y, r::transactionIndex))
            {
                give!("a receipt whose transactionIndex differs");
            }
            let tx_index = self.required(x, t::transactionIndex)?;
            if tx_index <= previous_tx_index {
                give!("transactions not in transactionIndex order");
            }
            previous_tx_index = tx_index;
            let tx_block_hash = self.kind_of(x, t::blockHash);
            if tx_block_hash != ABSENT
                && tx_block_hash != NULL
                && !(tx_block_hash == STRING && self.same(self.start_of(x, t::blockHash), self.end_of(x, t::blockHash), hash_start, hash_end))
            {
                give!("a transaction of another block");
            }
            if self.kind_of(y, r::blockHash) != STRING || !self.same(self.start_of(y, r::blockHash), self.end_of(y, r::blockHash), hash_start, hash_end) {
                give!("a receipt of another block");
            }
            let receipt_number = self.kind_of(y, r::blockNumber);
            if receipt_number != ABSENT
                && !(receipt_number == STRING && self.same(self.start_of(y, r::blockNumber), self.end_of(y, r::blockNumber), number_start, number_end))
            {
                give!("a receipt with another block number");
            }
            if self.kind_of(y, r::logs) != ARRAY {
                give!("a receipt without a logs array of objects");
            }
            let mut log = self.raw(y, r::logs, 1);
            while log >= 0 {
                let z = log as usize;
                if self.kind_of(z, l::blockHash) != STRING || !self.same(self.start_of(z, l::blockHash), self.end_of(z, l::blockHash), hash_start, hash_end) {
                    give!("a log of another block");
                }
                if (self.kind_of(z, l::transactionHash) == STRING
                    && !self.same(self.start_of(z, l::transactionHash), self.end_of(z, l::transactionHash), self.start_of(y, r::transactionHash), self.end_of(y, r::transactionHash)))
                    || (self.kind_of(z, l::transactionIndex) == STRING
                        && !self.same(self.start_of(z, l::transactionIndex), self.end_of(z, l::transactionIndex), self.start_of(y, r::transactionIndex), self.end_of(y, r::transactionIndex)))
                {
                    give!("a log of another transaction");
                }
                let log_index = self.required(z, l::logIndex)?;
                if log_index <= previous_log_index {
                    give!("log indexes that do not rise");
                }
                previous_log_index = log_index;
                log = self.next(log);
            }
            if self.raw(y, r::logs, 2) == 0 && self.kind_of(y, r::logsBloom) == STRING && !self.is_zero_bloom(self.start_of(y, r::logsBloom), self.end_of(y, r::logsBloom)) {
                bloom_without_logs = true;
            }
            log_count += self.raw(y, r::logs, 2);
            tx = self.next(tx);
            receipt = self.next(receipt);
        }
        if log_count == 0 && tx_count > 0 && !self.is_zero_bloom(self.start_of(block, b::logsBloom), self.end_of(block, b::logsBloom)) {
            give!("a logs bloom without logs");
        }
        if bloom_without_logs {
            give!("a receipt's logs bloom without logs");
        }

        // blocks
        let withdrawals_root = self.kind_of(block, b::withdrawalsRoot) == STRING;
        let uncles = self.kind_of(block, b::uncles);
        if uncles != ABSENT && uncles != NULL && uncles != ARRAY {
            give!("uncles that are not an array of strings");
        }
        let withdrawals = self.kind_of(block, b::withdrawals);
        if withdrawals != ABSENT && withdrawals != NULL && withdrawals != ARRAY {
            give!("withdrawals that are not an array of objects");
        }
        let timestamp = self.required(block, b::timestamp)?;
        let size = self.narrow(block, b::size, SAFE_MAX)?;
        {
            let out = &mut tables[BLOCKS];
            int16(out, BLOCK_COLUMNS);
            put_int8(out, self.chain_id);
            put_int8(out, number);
            self.write_hex_bytes(out, hash_start, hash_end)?;
            self.write_required_hex(out, block, b::parentHash)?;
            put_int8(out, timestamp);
            self.write_hex_field(out, block, b::miner)?;
            self.write_quantity(out, block, b::gasLimit)?;
            self.write_quantity(out, block, b::gasUsed)?;
            self.write_quantity(out, block, b::baseFeePerGas)?;
            self.write_quantity(out, block, b::difficulty)?;
            self.write_quantity(out, block, b::totalDifficulty)?;
            match size {
                None => int32(out, -1),
                Some(size) => put_int8(out, size),
            }
            self.write_hex_field(out, block, b::nonce)?;
            self.write_hex_field(out, block, b::mixHash)?;
            self.write_hex_field(out, block, b::sha3Uncles)?;
            self.write_required_hex(out, block, b::logsBloom)?;
            self.write_hex_field(out, block, b::transactionsRoot)?;
            self.write_hex_field(out, block, b::stateRoot)?;
            self.write_hex_field(out, block, b::receiptsRoot)?;
            self.write_hex_field(out, block, b::extraData)?;
            self.write_hex_field(out, block, b::withdrawalsRoot)?;
            self.write_quantity(out, block, b::blobGasUsed)?;
            self.write_quantity(out, block, b::excessBlobGas)?;
            self.write_hex_field(out, block, b::parentBeaconBlockRoot)?;
            self.write_hex_field(out, block, b::requestsHash)?;
            if uncles == ARRAY {
                self.write_hex_array(out, self.raw(block, b::uncles, 1) as usize, self.raw(block, b::uncles, 2) as usize)?;
            } else {
                self.write_hex_array(out, 0, 0)?;
            }
            put_int4(out, Some(tx_count as i64));
            let defaulted: &[usize] = if withdrawals_root { &[b::uncles, b::withdrawals] } else { &[b::uncles] };
            self.put_extra(out, block, defaulted, b::NAMES)?;
        }
        counts[BLOCKS] += 1;

        // transactions, each with its receipt's columns
        let (mut tx, mut receipt, mut position) = (first_tx, first_receipt, 0i64);
        while tx >= 0 {
            self.write_transaction(&mut tables[TRANSACTIONS], tx as usize, receipt as usize, position, number, hash_start, hash_end)?;
            tx = self.next(tx);
            receipt = self.next(receipt);
            position += 1;
        }
        counts[TRANSACTIONS] += tx_count as u32;
        // logs, receipt by receipt
        let mut receipt = first_receipt;
        while receipt >= 0 {
            let mut log = self.raw(receipt as usize, r::logs, 1);
            while log >= 0 {
                self.write_log(&mut tables[LOGS], log as usize, number, hash_start, hash_end)?;
                log = self.next(log);
            }
            receipt = self.next(receipt);
        }
        counts[LOGS] += log_count as u32;
        // withdrawals
        if withdrawals == ARRAY {
            let (mut wd, mut position) = (self.raw(block, b::withdrawals, 1), 0i64);
            while wd >= 0 {
                self.write_withdrawal(&mut tables[WITHDRAWALS], wd as usize, position, number, hash_start, hash_end)?;
                wd = self.next(wd);
                position += 1;
            }
            counts[WITHDRAWALS] += self.raw(block, b::withdrawals, 2) as u32;
        }
        Ok([hash_start, hash_end, self.start_of(block, b::parentHash), self.end_of(block, b::parentHash)])
    }

    /// The start every row but blocks' has: its column count, chain_id, block_number and block_hash (`writeRowStart`).
    fn row_start(&self, out: &mut Vec<u8>, columns: i16, block_number: i64, hash_start: usize, hash_end: usize) -> R<()> {
        int16(out, columns);
        put_int8(out, self.chain_id);
        put_int8(out, block_number);
        self.write_hex_bytes(out, hash_start, hash_end)
    }

    #[allow(clippy::too_many_arguments)]
    fn write_transaction(&mut self, out: &mut Vec<u8>, tx: usize, receipt: usize, position: i64, block_number: i64, hash_start: usize, hash_end: usize) -> R<()> {
        let index = self.narrow(tx, t::transactionIndex, SAFE_MAX)?.unwrap_or(position);
        let type_ = self.narrow(tx, t::type_, INTEGER_MAX)?;
        let y_parity = self.narrow(tx, t::yParity, SMALLINT_MAX)?;
        // The receipt's columns (receiptColumns): its own from/to are kept only where they equal the transaction's.
        for (rid, tid) in [(r::from, t::from), (r::to, t::to)] {
            let rk = self.kind_of(receipt, rid);
            if rk == ABSENT {
                continue;
            }
            let tk = self.kind_of(tx, tid);
            let both_null = rk == NULL && (tk == NULL || tk == ABSENT);
            let both_equal = rk == STRING
                && tk == STRING
                && self.same_ignoring_case(self.start_of(receipt, rid), self.end_of(receipt, rid), self.start_of(tx, tid), self.end_of(tx, tid));
            if !both_null && !both_equal {
                give!("a receipt whose from/to differs from its transaction");
            }
        }
        let status = self.narrow(receipt, r::status, SMALLINT_MAX)?;
        let receipt_type = self.narrow(receipt, r::type_, INTEGER_MAX)?;

        self.row_start(out, TX_COLUMNS, block_number, hash_start, hash_end)?;
        put_int8(out, index);
        self.write_required_hex(out, tx, t::hash)?;
        put_int4(out, type_);
        self.write_quantity(out, tx, t::nonce)?;
        self.write_hex_field(out, tx, t::from)?;
        self.write_hex_field(out, tx, t::to)?;
        self.write_quantity(out, tx, t::value)?;
        self.write_quantity(out, tx, t::gas)?;
        self.write_quantity(out, tx, t::gasPrice)?;
        self.write_quantity(out, tx, t::maxFeePerGas)?;
        self.write_quantity(out, tx, t::maxPriorityFeePerGas)?;
        self.write_quantity(out, tx, t::maxFeePerBlobGas)?;
        if self.kind_of(tx, t::blobVersionedHashes) == ARRAY {
            self.write_hex_array(out, self.raw(tx, t::blobVersionedHashes, 1) as usize, self.raw(tx, t::blobVersionedHashes, 2) as usize)?;
        } else {
            int32(out, -1); // Array.isArray(…) ? … : null
        }
        self.write_hex_field(out, tx, t::input)?;
        self.write_quantity(out, tx, t::chainId)?;
        self.write_quantity(out, tx, t::v)?;
        self.write_quantity(out, tx, t::r)?;
        self.write_quantity(out, tx, t::s)?;
        put_int2(out, y_parity);
        for id in [t::accessList, t::authorizationList] {
            let kind = self.kind_of(tx, id);
            if kind == ABSENT {
                int32(out, -1);
            } else {
                let (start, end) = (self.start_of(tx, id), self.end_of(tx, id));
                self.put_jsonb(out, |w, out| w.json_of(out, kind, start, end))?;
            }
        }
        self.put_extra(out, tx, &[t::blockHash, t::blockNumber, t::transactionIndex, t::to], t::NAMES)?;
        put_int2(out, status);
        self.write_hex_field(out, receipt, r::root)?;
        self.write_quantity(out, receipt, r::gasUsed)?;
        self.write_quantity(out, receipt, r::cumulativeGasUsed)?;
        self.write_quantity(out, receipt, r::effectiveGasPrice)?;
        self.write_hex_field(out, receipt, r::contractAddress)?;
        self.write_hex_field(out, receipt, r::logsBloom)?;
        self.write_quantity(out, receipt, r::blobGasUsed)?;
        self.write_quantity(out, receipt, r::blobGasPrice)?;
        put_int4(out, receipt_type);
        self.put_extra(
            out,
            receipt,
            &[r::transactionHash, r::transactionIndex, r::blockHash, r::blockNumber, r::from, r::to, r::contractAddress, r::logs],
            r::NAMES,
        )?;
        put_int4(out, Some(self.raw(receipt, r::logs, 2) as i64));
        int32(out, 1); // in_block_list: true
        out.push(1);
        Ok(())
    }

    fn write_log(&mut self, out: &mut Vec<u8>, log: usize, block_number: i64, hash_start: usize, hash_end: usize) -> R<()> {
        if self.kind_of(log, l::removed) == TRUE {
            give!("a removed log");
        }
        let topics = self.kind_of(log, l::topics);
        if topics != ABSENT && topics != NULL && topics != ARRAY {
            give!("topics that are not an array of strings");
        }
        let first_topic = if topics == ARRAY { self.raw(log, l::topics, 1) as usize } else { 0 };
        let topic_count = if topics == ARRAY { self.raw(log, l::topics, 2) as usize } else { 0 };
        if topic_count > 4 {
            give!("more than 4 topics");
        }
        let log_index = self.required(log, l::logIndex)?;
        let transaction_index = self.required(log, l::transactionIndex)?;
        if self.kind_of(log, l::transactionHash) != STRING || self.kind_of(log, l::address) != STRING {
            give!("a log without transactionHash or address");
        }
        self.row_start(out, LOG_COLUMNS, block_number, hash_start, hash_end)?;
        put_int8(out, log_index);
        self.write_required_hex(out, log, l::transactionHash)?;
        put_int8(out, transaction_index);
        self.write_required_hex(out, log, l::address)?;
        for k in 0..4 {
            if k < topic_count {
                let (start, end) = (self.spans[first_topic + 2 * k] as usize, self.spans[first_topic + 2 * k + 1] as usize);
                if !self.is_even_hex(start, end) {
                    give!("a topic that is not even hex");
                }
                self.write_hex_bytes(out, start, end)?;
            } else {
                int32(out, -1);
            }
        }
        if self.kind_of(log, l::data) == STRING {
            self.write_hex_field(out, log, l::data)?;
        } else {
            int32(out, 0); // hex(log.data) ?? '0x': no bytes
        }
        self.put_extra(out, log, &[l::blockNumber, l::blockHash, l::transactionHash, l::transactionIndex, l::logIndex, l::removed], l::NAMES)
    }

    fn write_withdrawal(&mut self, out: &mut Vec<u8>, wd: usize, position: i64, block_number: i64, hash_start: usize, hash_end: usize) -> R<()> {
        for id in [w::index, w::validatorIndex, w::amount] {
            if self.kind_of(wd, id) != STRING {
                give!("a withdrawal quantity missing");
            }
        }
        if self.kind_of(wd, w::address) != STRING {
            give!("a withdrawal without address");
        }
        self.row_start(out, WITHDRAWAL_COLUMNS, block_number, hash_start, hash_end)?;
        put_int4(out, Some(position));
        self.write_quantity(out, wd, w::index)?;
        self.write_quantity(out, wd, w::validatorIndex)?;
        self.write_required_hex(out, wd, w::address)?;
        self.write_quantity(out, wd, w::amount)?;
        self.put_extra(out, wd, &[], w::NAMES)
    }
}

/// What `quote_and_escapes` found before a string's closing quote.
#[derive(Clone, Copy, PartialEq, Debug)]
struct StringBytes {
    /// Index of the first `"`; None when there is none.
    end: Option<usize>,
    /// No `\\` and no control character (below 0x20) before it.
    plain: bool,
    /// No byte of 0x80 or over before it.
    ascii: bool,
}

/// Whether the AVX2 steps run: 0 not decided yet, 1 yes, 2 no.
#[cfg(target_arch = "x86_64")]
static AVX2: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Whether the AVX2 steps run: when the CPU has AVX2 (x86-64), unless the environment has
/// `TRANSCODER_SIMD=sse2` (the tests' way to run the SSE2 steps on a CPU that has AVX2). Decided
/// at the first call, then a cached flag.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn has_avx2() -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    match AVX2.load(Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let yes = std::is_x86_feature_detected!("avx2") && std::env::var_os("TRANSCODER_SIMD").map_or(true, |v| v != "sse2");
            AVX2.store(if yes { 1 } else { 2 }, Relaxed);
            yes
        }
    }
}

/// Which steps the scan and the hex decoding take in this process: `avx2`, `sse2` (x86-64 without
/// AVX2, or with `TRANSCODER_SIMD=sse2`) or `bytes` (other targets: byte by byte, eight at a time).
pub fn simd_steps() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2() {
            "avx2"
        } else {
            "sse2"
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "bytes"
    }
}

/// Index of the first `"` in `s`, and whether the bytes before it are free of `\\` and control
/// characters (below 0x20) and all ASCII: one pass, 32 bytes a step with AVX2 where the CPU has
/// it, then 16 with SSE2 on x86-64 (the long hex strings of calldata, logs and blooms are most of
/// an answer), else `find_quote` and a second pass.
#[inline]
fn quote_and_escapes(s: &[u8]) -> StringBytes {
    #[cfg(target_arch = "x86_64")]
    {
        let (mut i, mut plain, mut ascii) = (0, true, true);
        if s.len() >= 32 && has_avx2() {
            // SAFETY: the CPU has AVX2 (checked above).
            match unsafe { quote_and_escapes_avx2(s) } {
                Ok(found) => return found,
                Err(state) => (i, plain, ascii) = state,
            }
        }
        // SAFETY: SSE2 is part of x86-64; each load reads s[i..i + 16] with i + 16 ≤ s.len().
        unsafe {
            use std::arch::x86_64::*;
            let quote = _mm_set1_epi8(b'"' as i8);
            let backslash = _mm_set1_epi8(b'\\' as i8);
            let below_space = _mm_set1_epi8(0x1f);
            while i + 16 <= s.len() {
                let v = _mm_loadu_si128(s.as_ptr().add(i) as *const __m128i);
                let quotes = _mm_movemask_epi8(_mm_cmpeq_epi8(v, quote)) as u32;
                let bad = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(_mm_min_epu8(v, below_space), v))) as u32;
                let high = _mm_movemask_epi8(v) as u32;
                if quotes != 0 {
                    let at = quotes.trailing_zeros();
                    let before = (1u32 << at) - 1;
                    return StringBytes { end: Some(i + at as usize), plain: plain && bad & before == 0, ascii: ascii && high & before == 0 };
                }
                plain &= bad == 0;
                ascii &= high == 0;
                i += 16;
            }
        }
        let tail = &s[i..];
        let end = tail.iter().position(|&c| c == b'"');
        let before = &tail[..end.unwrap_or(tail.len())];
        StringBytes { end: end.map(|n| i + n), plain: plain && !before.iter().any(|&c| c < 0x20 || c == b'\\'), ascii: ascii && before.is_ascii() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let end = find_quote(s);
        let before = &s[..end.unwrap_or(s.len())];
        StringBytes { end, plain: !before.iter().any(|&c| c < 0x20 || c == b'\\'), ascii: before.is_ascii() }
    }
}

/// `quote_and_escapes` 32 bytes a step: `Ok(found)` when a step held the closing quote; else
/// `Err((i, plain, ascii))`: no quote in `s[..i]`, whether its bytes were plain and ASCII, `i` a
/// multiple of 32 with fewer than 32 bytes after it.
/// SAFETY: the CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quote_and_escapes_avx2(s: &[u8]) -> Result<StringBytes, (usize, bool, bool)> {
    use std::arch::x86_64::*;
    let quote = _mm256_set1_epi8(b'"' as i8);
    let backslash = _mm256_set1_epi8(b'\\' as i8);
    let below_space = _mm256_set1_epi8(0x1f);
    let (mut i, mut plain, mut ascii) = (0, true, true);
    // SAFETY: each load reads s[i..i + 32] with i + 32 ≤ s.len().
    while i + 32 <= s.len() {
        let v = _mm256_loadu_si256(s.as_ptr().add(i) as *const __m256i);
        let quotes = _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, quote)) as u32;
        let bad = _mm256_movemask_epi8(_mm256_or_si256(_mm256_cmpeq_epi8(v, backslash), _mm256_cmpeq_epi8(_mm256_min_epu8(v, below_space), v))) as u32;
        let high = _mm256_movemask_epi8(v) as u32;
        if quotes != 0 {
            let at = quotes.trailing_zeros();
            let before = ((1u64 << at) - 1) as u32;
            return Ok(StringBytes { end: Some(i + at as usize), plain: plain && bad & before == 0, ascii: ascii && high & before == 0 });
        }
        plain &= bad == 0;
        ascii &= high == 0;
        i += 32;
    }
    Err((i, plain, ascii))
}

/// Index of the first `"` in `s`, eight bytes at a time (the zero-byte test of "Bit Twiddling
/// Hacks" on the bytes XOR `"`: the lowest flagged byte is always a true match).
#[inline]
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn find_quote(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const QUOTES: u64 = 0x2222_2222_2222_2222;
    let mut i = 0;
    while i + 8 <= s.len() {
        let x = u64::from_le_bytes(s[i..i + 8].try_into().unwrap()) ^ QUOTES;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    s[i..].iter().position(|&c| c == b'"').map(|n| i + n)
}

const fn pairs() -> [i16; 65536] {
    let nibble = nibbles();
    let mut table = [-1i16; 65536];
    let mut i = 0;
    while i < 65536 {
        let (lo_char, hi_char) = (i & 0xff, i >> 8); // a pair of hex digits read as a little-endian u16
        let (hi, lo) = (nibble[lo_char], nibble[hi_char]);
        if hi >= 0 && lo >= 0 {
            table[i] = (hi as i16) << 4 | lo as i16;
        }
        i += 1;
    }
    table
}
/// The byte of each pair of hex digits (the two bytes read as a little-endian u16); -1 when either is not a hex digit.
static PAIR: [i16; 65536] = pairs();

/// Whether `a` and `b` hold the same bytes. Inline, 8 bytes at a time: the slices compared here
/// are object keys and hashes (most under 70 bytes), for which a call to `memcmp` (what `==`
/// on slices compiles to) cost more than the comparison (2.7 % of the machine's samples in the
/// decode thread during a bench run, session 18).
#[inline(always)]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n < 8 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    // SAFETY: every load reads 8 bytes at i ≤ n − 8 of a slice of n bytes.
    let word = |s: &[u8], i: usize| unsafe { std::ptr::read_unaligned(s.as_ptr().add(i) as *const u64) };
    let mut diff = 0u64;
    let mut i = 0;
    while i + 8 <= n {
        diff |= word(a, i) ^ word(b, i);
        i += 8;
    }
    // The last 8 bytes (overlapping those compared when n is not a multiple of 8).
    diff |= word(a, n - 8) ^ word(b, n - 8);
    diff == 0
}

/// Appends to `out` the bytes of `hex` (hex digits, a multiple of 16 of them, either case);
/// false when a byte is not a hex digit (what was appended is then meaningless: the caller gives
/// up). The same result as the PAIR table, 16 digits a step with SSE2.
#[cfg(target_arch = "x86_64")]
fn decode_hex_16s(hex: &[u8], out: &mut Vec<u8>) -> bool {
    debug_assert!(hex.len() % 16 == 0);
    let n = hex.len() / 2;
    out.reserve(n);
    // SAFETY: SSE2 is part of x86-64; the loads read hex[16k..16k + 16] (within hex), the stores
    // write out's reserved spare capacity [len + 8k, len + 8k + 8), whose n bytes are all written
    // before set_len.
    unsafe {
        use std::arch::x86_64::*;
        let dst = out.as_mut_ptr().add(out.len());
        let zero_char = _mm_set1_epi8(b'0' as i8);
        let a_char = _mm_set1_epi8(b'a' as i8);
        let case_bit = _mm_set1_epi8(0x20);
        let nine = _mm_set1_epi8(9);
        let five = _mm_set1_epi8(5);
        let ten = _mm_set1_epi8(10);
        let low_byte = _mm_set1_epi16(0x00ff);
        let mut bad = _mm_setzero_si128();
        let mut k = 0;
        while k * 16 < hex.len() {
            let v = _mm_loadu_si128(hex.as_ptr().add(k * 16) as *const __m128i);
            // A digit: c − '0' ≤ 9 unsigned; a letter: (c | 0x20) − 'a' ≤ 5 unsigned.
            let d = _mm_sub_epi8(v, zero_char);
            let l = _mm_sub_epi8(_mm_or_si128(v, case_bit), a_char);
            let is_digit = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d);
            let is_letter = _mm_cmpeq_epi8(_mm_min_epu8(l, five), l);
            bad = _mm_or_si128(bad, _mm_cmpeq_epi8(_mm_or_si128(is_digit, is_letter), _mm_setzero_si128()));
            let nibbles = _mm_or_si128(_mm_and_si128(is_digit, d), _mm_andnot_si128(is_digit, _mm_add_epi8(l, ten)));
            // Little-endian u16 lanes hold (high digit, low digit): (high << 4) | low, packed to bytes.
            let pairs = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(nibbles, low_byte), 4), _mm_srli_epi16(nibbles, 8));
            _mm_storel_epi64(dst.add(k * 8) as *mut __m128i, _mm_packus_epi16(pairs, pairs));
            k += 1;
        }
        out.set_len(out.len() + n);
        _mm_movemask_epi8(bad) == 0
    }
}

/// `decode_hex_16s` 32 digits a step (a multiple of 32 of them), with AVX2.
/// SAFETY: the CPU must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn decode_hex_32s_avx2(hex: &[u8], out: &mut Vec<u8>) -> bool {
    use std::arch::x86_64::*;
    debug_assert!(hex.len() % 32 == 0);
    let n = hex.len() / 2;
    out.reserve(n);
    // SAFETY: the loads read hex[32k..32k + 32] (within hex), the stores write out's reserved spare
    // capacity [len + 16k, len + 16k + 16), whose n bytes are all written before set_len.
    let dst = out.as_mut_ptr().add(out.len());
    let zero_char = _mm256_set1_epi8(b'0' as i8);
    let a_char = _mm256_set1_epi8(b'a' as i8);
    let case_bit = _mm256_set1_epi8(0x20);
    let nine = _mm256_set1_epi8(9);
    let five = _mm256_set1_epi8(5);
    let ten = _mm256_set1_epi8(10);
    let low_byte = _mm256_set1_epi16(0x00ff);
    let mut bad = _mm256_setzero_si256();
    let mut k = 0;
    while k * 32 < hex.len() {
        let v = _mm256_loadu_si256(hex.as_ptr().add(k * 32) as *const __m256i);
        // The same steps as decode_hex_16s, on 32 digits.
        let d = _mm256_sub_epi8(v, zero_char);
        let l = _mm256_sub_epi8(_mm256_or_si256(v, case_bit), a_char);
        let is_digit = _mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d);
        let is_letter = _mm256_cmpeq_epi8(_mm256_min_epu8(l, five), l);
        bad = _mm256_or_si256(bad, _mm256_cmpeq_epi8(_mm256_or_si256(is_digit, is_letter), _mm256_setzero_si256()));
        let nibbles = _mm256_or_si256(_mm256_and_si256(is_digit, d), _mm256_andnot_si256(is_digit, _mm256_add_epi8(l, ten)));
        let pairs = _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(nibbles, low_byte), 4), _mm256_srli_epi16(nibbles, 8));
        // packus packs within each 128-bit lane: the 8 bytes of lane 0 are in qword 0, lane 1's in
        // qword 2; gather those two into the low 128 bits.
        let packed = _mm256_permute4x64_epi64(_mm256_packus_epi16(pairs, pairs), 0b10_00_10_00);
        _mm_storeu_si128(dst.add(k * 16) as *mut __m128i, _mm256_castsi256_si128(packed));
        k += 1;
    }
    out.set_len(out.len() + n);
    _mm256_movemask_epi8(bad) == 0
}

/// Whether the spans `keys` of `b` hold the same key twice, without allocating while they are few.
fn spans_repeat(b: &[u8], keys: &[(usize, usize)]) -> bool {
    if keys.len() <= 8 {
        return (1..keys.len()).any(|i| keys[..i].iter().any(|&(s, e)| same_bytes(&b[s..e], &b[keys[i].0..keys[i].1])));
    }
    has_duplicate(&mut keys.iter().map(|&(s, e)| &b[s..e]).collect::<Vec<_>>())
}

/// Whether `keys` holds a key twice (sorts them; pairs compared while few).
fn has_duplicate(keys: &mut [&[u8]]) -> bool {
    if keys.len() <= 8 {
        return (1..keys.len()).any(|i| keys[..i].contains(&keys[i]));
    }
    keys.sort_unstable();
    keys.windows(2).any(|pair| pair[0] == pair[1])
}

/// Whether `key` is an array index for V8 (a canonical decimal below 2^32 − 1), which
/// `JSON.parse` orders before the other keys.
fn is_array_index(key: &[u8]) -> bool {
    !key.is_empty()
        && key.len() <= 10
        && key.iter().all(u8::is_ascii_digit)
        && (key.len() == 1 || key[0] != b'0')
        && key.iter().fold(0u64, |n, &c| n * 10 + (c - b'0') as u64) < 4_294_967_295
}

fn skip_ws(b: &[u8], p: &mut usize) {
    while *p < b.len() && matches!(b[*p], b' ' | b'\n' | b'\r' | b'\t') {
        *p += 1;
    }
}

/// Whether `JSON.stringify(JSON.parse(n))` gives the number `n` back as it is: `-?(0|[1-9]\d*)`,
/// optionally `.` and digits ending in a non-zero one, no exponent, at most 15 significant digits
/// (so the double's shortest form is these digits), not `-0`, not below 10^-6 (written with an
/// exponent).
fn is_canonical_number(n: &[u8]) -> bool {
    let digits = n.strip_prefix(b"-").unwrap_or(n);
    let (int, fraction) = match digits.iter().position(|&c| c == b'.') {
        Some(dot) => (&digits[..dot], Some(&digits[dot + 1..])),
        None => (digits, None),
    };
    if int.is_empty() || !int.iter().all(u8::is_ascii_digit) || (int.len() > 1 && int[0] == b'0') {
        return false;
    }
    let mut significant = if int == b"0" { 0 } else { int.len() };
    match fraction {
        None => {
            if n == b"-0" {
                return false;
            }
        }
        Some(f) => {
            if f.is_empty() || !f.iter().all(u8::is_ascii_digit) || f[f.len() - 1] == b'0' {
                return false;
            }
            if significant == 0 {
                let zeros = f.iter().take_while(|&&c| c == b'0').count();
                if zeros >= 6 {
                    return false;
                }
                significant = f.len() - zeros;
            } else {
                significant += f.len();
            }
        }
    }
    significant <= 15
}

// ---------------------------------------------------------------------------------------------
// The answer (transcode.ts's transcode)
// ---------------------------------------------------------------------------------------------

/// Transcodes the answer `body` to the requests for blocks `numbers` (ids 0..2n−1, block then
/// receipts), whose requests the caller checked: on success the tuples, counts and hash spans
/// are in `scratch`. Gives up (Err) when the answer is not of the shape it takes.
pub fn transcode(body: &[u8], numbers: &[i64], chain_id: i64, scratch: &mut Scratch) -> R<()> {
    let count = numbers.len() * 2;
    let half = numbers.len();
    scratch.slots.clear();
    scratch.others.clear();
    scratch.spans.clear();
    scratch.keys.clear();
    let mut blocks = vec![-1i32; half];
    let mut first_receipt = vec![-1i32; half];
    let mut receipt_count = vec![-1i32; half];
    let mut seen = vec![false; count];
    {
        let mut s = Scan {
            b: body,
            p: 0,
            slots: &mut scratch.slots,
            others: &mut scratch.others,
            spans: &mut scratch.spans,
            key_start: 0,
            key_end: 0,
            list_count: 0,
            depth: 0,
            guesses: [[u8::MAX; NO_FIELD + 1]; 6],
        };
        // Parses the result of request `id` at the scanner's position: a block (even ids) or its receipts.
        let result = |s: &mut Scan, id: usize, blocks: &mut [i32], first_receipt: &mut [i32], receipt_count: &mut [i32]| -> R<()> {
            s.ws();
            let k = id >> 1;
            if id % 2 == 0 {
                if s.at(s.p) != b'{' {
                    give!("a block that is not an object");
                }
                blocks[k] = s.object(Kind::Block)? as i32;
                return Ok(());
            }
            if s.at(s.p) != b'[' {
                give!("receipts that are not an array");
            }
            first_receipt[k] = s.objects(Kind::Receipt)?;
            receipt_count[k] = s.list_count;
            Ok(())
        };
        s.expect(b'[')?;
        if s.take(b']') {
            give!("an empty batch");
        }
        loop {
            s.expect(b'{')?;
            let mut id: i64 = -1;
            let (mut result_at, mut result_end) = (usize::MAX, 0usize);
            let mut parsed = false;
            loop {
                let field = s.key(Kind::Item, NO_FIELD)?;
                if field == Some(i::error) {
                    give!("an item with an error");
                }
                if field == Some(i::id) {
                    let start = s.p;
                    if s.value()? != NUMBER {
                        give!("an id that is not a number");
                    }
                    if id >= 0 {
                        give!("an item with two ids");
                    }
                    let digits = &body[start..s.p];
                    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) || (digits[0] == b'0' && digits.len() > 1) {
                        give!("an id that is not a small integer");
                    }
                    id = digits.iter().fold(0i64, |n, &c| n * 10 + (c - b'0') as i64);
                } else if field == Some(i::result) {
                    if result_at != usize::MAX {
                        give!("an item with two results");
                    }
                    result_at = s.p;
                    parsed = id >= 0 && (id as usize) < count && !seen[id as usize];
                    if parsed {
                        result(&mut s, id as usize, &mut blocks, &mut first_receipt, &mut receipt_count)?; // the usual order: parsed where it lies
                    } else {
                        s.value()?;
                    }
                    result_end = s.p;
                } else {
                    s.value()?;
                }
                if !s.take(b',') {
                    break;
                }
            }
            s.expect(b'}')?;
            if id < 0 || id as usize >= count || seen[id as usize] {
                give!("an id missing, unknown or repeated");
            }
            if result_at == usize::MAX {
                give!("an item without result");
            }
            seen[id as usize] = true;
            if !parsed {
                // The id came after the result: parse the result now where it lies, then come back.
                let after = s.p;
                s.p = result_at;
                result(&mut s, id as usize, &mut blocks, &mut first_receipt, &mut receipt_count)?;
                if s.p != result_end {
                    give!("a result parsed to a different end");
                }
                s.p = after;
            }
            if !s.take(b',') {
                break;
            }
        }
        s.expect(b']')?;
        s.ws();
        if s.p != body.len() {
            give!("bytes after the batch");
        }
        if seen.contains(&false) {
            give!("an answer without an item for every request");
        }
    }

    for table in scratch.tables.iter_mut() {
        table.clear();
    }
    scratch.counts = [0; 4];
    scratch.hashes.clear();
    let mut writer = Writer {
        b: body,
        slots: &scratch.slots,
        others: &scratch.others,
        spans: &scratch.spans,
        limbs: &mut scratch.limbs,
        keys: &mut scratch.keys,
        chain_id,
    };
    for k in 0..half {
        let spans = writer.write_block(&mut scratch.tables, &mut scratch.counts, blocks[k] as usize, first_receipt[k], receipt_count[k], numbers[k])?;
        scratch.hashes.push(spans);
    }
    Ok(())
}
