//! The decode thread's native transcoder (src/decode/native.ts loads it): a Node-API addon whose main
//! function, `transcode(body, meta)`, turns a JSON-RPC answer of blocks and receipts into Postgres
//! COPY binary tuples, as src/decode/transcode.ts does in JavaScript, about five times faster.
//!
//! `body` is the answer's bytes (a Buffer). `meta` is a Float64Array the caller allocates, of at
//! least `2 + n + 8 + 4n` numbers for `n` blocks: on entry `[chainId, n, number of block 0, …,
//! number of block n−1]`; on success, from index `2 + n`: the byte length of the blocks,
//! transactions, logs and withdrawals tuples, their row counts, then per block the offsets in
//! `body` of its hash and of its parent hash (start, end, without the quotes). It returns an
//! ArrayBuffer holding the four tables' tuples one after the other, or a string saying why it gave
//! up (the answer is not of the shape it takes: the caller then decodes it another way). It
//! throws only on wrong arguments.
//!
//! With a third argument (any value), `transcode(body, meta, hold)` makes no ArrayBuffer: it keeps
//! the tuples in the thread's scratch and returns their byte length (a number), and `take(out)`
//! then copies them into `out` (a Uint8Array of at least that many bytes, on an ArrayBuffer or a
//! SharedArrayBuffer: the decode thread's tuple arena), so an answer's tuples are copied once and
//! no fresh memory is allocated per answer. `take` throws when nothing is held or `out` is too short.
//!
//! `simd()` says which steps the scans and the hex decoding take in this process: `avx2` (the CPU
//! has it; checked at run time), `sse2` (x86-64 without it, or `TRANSCODER_SIMD=sse2` in the
//! environment) or `bytes` (other targets).

mod napi;
pub mod transcode;

use napi::*;
use std::cell::RefCell;
use std::ffi::c_void;
use std::os::raw::c_char;
use std::ptr;

/// 2^53 − 1, JavaScript's largest safe integer.
const SAFE_MAX: f64 = 9_007_199_254_740_991.0;

/// Scratch a thread keeps between answers; an exceptional answer's larger buffers are let go.
const KEEP_BYTES: usize = 32 << 20;

thread_local! {
    static SCRATCH: RefCell<transcode::Scratch> = RefCell::new(transcode::Scratch::default());
    /// Byte length of the tuples `transcode(…, hold)` left in SCRATCH for `take`; None when none are.
    static HELD: RefCell<Option<usize>> = RefCell::new(None);
}

unsafe fn throw(env: napi_env, message: &str) -> napi_value {
    let mut text = message.as_bytes().to_vec();
    text.push(0);
    napi_throw_error(env, ptr::null(), text.as_ptr() as *const c_char);
    ptr::null_mut()
}

unsafe fn string(env: napi_env, s: &str) -> napi_value {
    let mut result: napi_value = ptr::null_mut();
    if napi_create_string_utf8(env, s.as_ptr() as *const c_char, s.len(), &mut result) != NAPI_OK {
        return throw(env, "transcode: could not make a string");
    }
    result
}

unsafe extern "C" fn transcode_js(env: napi_env, info: napi_callback_info) -> napi_value {
    let mut argc: usize = 3;
    let mut argv: [napi_value; 3] = [ptr::null_mut(); 3];
    if napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) != NAPI_OK || argc < 2 {
        return throw(env, "transcode(body, meta): two arguments expected");
    }
    let hold = argc >= 3;
    HELD.with(|held| *held.borrow_mut() = None);
    let mut data: *mut c_void = ptr::null_mut();
    let mut length: usize = 0;
    if napi_get_buffer_info(env, argv[0], &mut data, &mut length) != NAPI_OK {
        return throw(env, "transcode(body, meta): body must be a Buffer");
    }
    let body: &[u8] = if length == 0 { &[] } else { std::slice::from_raw_parts(data as *const u8, length) };
    let mut kind: i32 = -1;
    let mut count: usize = 0;
    let mut meta_data: *mut c_void = ptr::null_mut();
    if napi_get_typedarray_info(env, argv[1], &mut kind, &mut count, &mut meta_data, ptr::null_mut(), ptr::null_mut()) != NAPI_OK
        || kind != NAPI_FLOAT64_ARRAY
    {
        return throw(env, "transcode(body, meta): meta must be a Float64Array");
    }
    let meta: &mut [f64] = if count == 0 { &mut [] } else { std::slice::from_raw_parts_mut(meta_data as *mut f64, count) };
    if meta.len() < 2 {
        return throw(env, "transcode(body, meta): meta is too short");
    }
    let chain_id = meta[0];
    let half = meta[1];
    if !(half >= 1.0 && half.fract() == 0.0 && (meta.len() as f64) >= 10.0 + 5.0 * half) {
        return throw(env, "transcode(body, meta): meta[1] must be a block count of at least 1, and meta have 10 + 5 × that many numbers");
    }
    let half = half as usize;
    // Values the caller checks; out of range they are a give-up, as in the JavaScript transcoder.
    if !(chain_id.abs() <= SAFE_MAX && chain_id.fract() == 0.0) {
        return string(env, "a chain id that is not a safe integer");
    }
    let mut numbers = Vec::with_capacity(half);
    for k in 0..half {
        let n = meta[2 + k];
        if !(n >= 0.0 && n <= SAFE_MAX && n.fract() == 0.0) {
            return string(env, "a block number that is not a safe integer");
        }
        numbers.push(n as i64);
    }
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        // A panic is a bug here: it becomes a give-up (the JavaScript transcoder then decodes the
        // answer), not the end of the process.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| transcode::transcode(body, &numbers, chain_id as i64, &mut scratch)))
            .unwrap_or_else(|_| Err("a bug in the native transcoder (a panic; see stderr)".into()));
        match outcome {
            Err(why) => string(env, &why),
            Ok(()) => {
                let total: usize = scratch.tables.iter().map(|t| t.len()).sum();
                let mut result: napi_value = ptr::null_mut();
                if hold {
                    if napi_create_double(env, total as f64, &mut result) != NAPI_OK {
                        return throw(env, "transcode: could not make a number");
                    }
                    HELD.with(|held| *held.borrow_mut() = Some(total));
                } else {
                    let mut out: *mut c_void = ptr::null_mut();
                    if napi_create_arraybuffer(env, total, &mut out, &mut result) != NAPI_OK {
                        return throw(env, "transcode: could not allocate the tuples' ArrayBuffer");
                    }
                    copy_tables(&scratch, out as *mut u8);
                }
                let o = 2 + half;
                for t in 0..4 {
                    meta[o + t] = scratch.tables[t].len() as f64;
                    meta[o + 4 + t] = scratch.counts[t] as f64;
                }
                for (k, spans) in scratch.hashes.iter().enumerate() {
                    for (j, v) in spans.iter().enumerate() {
                        meta[o + 8 + 4 * k + j] = *v as f64;
                    }
                }
                if !hold {
                    scratch.shrink(KEEP_BYTES);
                }
                result
            }
        }
    })
}

/// Copies the four tables' tuples one after the other to `out`, which has room for all of them.
unsafe fn copy_tables(scratch: &transcode::Scratch, out: *mut u8) {
    let mut at = 0usize;
    for table in scratch.tables.iter() {
        if !table.is_empty() {
            ptr::copy_nonoverlapping(table.as_ptr(), out.add(at), table.len());
            at += table.len();
        }
    }
}

unsafe extern "C" fn take_js(env: napi_env, info: napi_callback_info) -> napi_value {
    let mut argc: usize = 1;
    let mut argv: [napi_value; 1] = [ptr::null_mut(); 1];
    if napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) != NAPI_OK || argc < 1 {
        return throw(env, "take(out): one argument expected");
    }
    let mut kind: i32 = -1;
    let mut count: usize = 0;
    let mut data: *mut c_void = ptr::null_mut();
    if napi_get_typedarray_info(env, argv[0], &mut kind, &mut count, &mut data, ptr::null_mut(), ptr::null_mut()) != NAPI_OK || kind != NAPI_UINT8_ARRAY {
        return throw(env, "take(out): out must be a Uint8Array");
    }
    let total = match HELD.with(|held| held.borrow_mut().take()) {
        Some(total) => total,
        None => return throw(env, "take(out): no tuples are held (call transcode(body, meta, hold) first)"),
    };
    if count < total {
        return throw(env, "take(out): out is shorter than the tuples held");
    }
    SCRATCH.with(|cell| {
        let mut scratch = cell.borrow_mut();
        if total > 0 {
            copy_tables(&scratch, data as *mut u8);
        }
        scratch.shrink(KEEP_BYTES);
    });
    let mut result: napi_value = ptr::null_mut();
    napi_get_undefined(env, &mut result);
    result
}

/// `simd()`: which steps the transcoder takes in this process, `avx2`, `sse2` or `bytes`
/// (`transcode::simd_steps`).
unsafe extern "C" fn simd_js(env: napi_env, _info: napi_callback_info) -> napi_value {
    string(env, transcode::simd_steps())
}

/// The addon's entry, which Node calls once per thread that loads it (Node-API's
/// `napi_register_module_v1`): sets `exports.transcode`, `exports.take` and `exports.simd`.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    let functions: [(&[u8], napi_callback); 3] = [(b"transcode\0", transcode_js), (b"take\0", take_js), (b"simd\0", simd_js)];
    for (name, callback) in functions {
        let mut function: napi_value = ptr::null_mut();
        if napi_create_function(env, name.as_ptr() as *const c_char, name.len() - 1, callback, ptr::null_mut(), &mut function) != NAPI_OK
            || napi_set_named_property(env, exports, name.as_ptr() as *const c_char, function) != NAPI_OK
        {
            return throw(env, "transcode addon: could not export transcode, take and simd");
        }
    }
    exports
}
