//! C ABI of the device-side update verifier (`ota-verify`): one function,
//! [`sectwin_ota_verify`], over byte buffers the device owns. `no_std`: memory
//! comes from the C library's `malloc`/`free`, a panic aborts.
#![no_std]
#![allow(unsafe_code)]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};

use ota_verify::{digest_image, verify, Options, TrustState};

extern "C" {
    fn malloc(size: usize) -> *mut u8;
    fn free(ptr: *mut u8);
    fn aligned_alloc(align: usize, size: usize) -> *mut u8;
    fn abort() -> !;
}

struct CAllocator;

unsafe impl GlobalAlloc for CAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() <= 16 {
            malloc(layout.size())
        } else {
            aligned_alloc(
                layout.align(),
                layout.size().next_multiple_of(layout.align()),
            )
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        free(ptr)
    }
}

#[global_allocator]
static ALLOCATOR: CAllocator = CAllocator;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // SAFETY: abort never returns and takes no arguments.
    unsafe { abort() }
}

/// Hosted targets ship `core` built with unwinding tables that name this
/// symbol; with `panic = "abort"` nothing ever calls it (a microcontroller's
/// `core` does not refer to it at all).
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// The image was accepted: `out` holds the new trust state (JSON) to persist.
pub const SECTWIN_OTA_ACCEPTED: i32 = 0;
/// `out` is too small for the answer (`*out_len` says how much is needed).
pub const SECTWIN_OTA_OUT_TOO_SMALL: i32 = -1;
/// A null pointer where a buffer was required.
pub const SECTWIN_OTA_NULL: i32 = -2;

unsafe fn slice<'a>(p: *const u8, len: usize) -> Option<&'a [u8]> {
    if len == 0 {
        return Some(&[]);
    }
    if p.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees `p` points to `len` readable bytes.
    Some(core::slice::from_raw_parts(p, len))
}

/// Checks an image against a proof bundle under the device's trust state.
///
/// Returns [`SECTWIN_OTA_ACCEPTED`] with the new trust state in `out`, or the
/// refusal's code (`ota_verify::Refusal::code`, > 0) with its message in
/// `out`, or a negative code. `*out_len` is set to the answer's length.
/// `now_unix_secs` is 0 when the device has no trusted clock.
///
/// # Safety
/// Each pointer must be valid for its length (`out` for `out_cap` writable
/// bytes); `out_len` must be valid for a write.
#[no_mangle]
pub unsafe extern "C" fn sectwin_ota_verify(
    image: *const u8,
    image_len: usize,
    bundle: *const u8,
    bundle_len: usize,
    state: *const u8,
    state_len: usize,
    now_unix_secs: u64,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> i32 {
    let (Some(image), Some(bundle), Some(state)) = (
        slice(image, image_len),
        slice(bundle, bundle_len),
        slice(state, state_len),
    ) else {
        return SECTWIN_OTA_NULL;
    };
    if out_len.is_null() || (out.is_null() && out_cap > 0) {
        return SECTWIN_OTA_NULL;
    }
    let options = Options {
        now_unix_secs: (now_unix_secs > 0).then_some(now_unix_secs),
        ..Options::default()
    };
    let (code, answer) = match TrustState::parse(state) {
        Err(e) => {
            let r = ota_verify::Refusal::State(e);
            (r.code() as i32, alloc::format!("{r}").into_bytes())
        }
        Ok(state) => match verify(&digest_image(image), bundle, &state, &options) {
            Ok(a) => (SECTWIN_OTA_ACCEPTED, a.state.to_json()),
            Err(r) => (r.code() as i32, alloc::format!("{r}").into_bytes()),
        },
    };
    // SAFETY: checked non-null above.
    *out_len = answer.len();
    if answer.len() > out_cap {
        return SECTWIN_OTA_OUT_TOO_SMALL;
    }
    if !answer.is_empty() {
        // SAFETY: `out` is valid for `out_cap` >= `answer.len()` bytes.
        core::ptr::copy_nonoverlapping(answer.as_ptr(), out, answer.len());
    }
    code
}
