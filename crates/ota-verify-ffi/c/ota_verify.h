/* sectwin's device-side update verifier (crates/ota-verify), C ABI. */
#ifndef SECTWIN_OTA_VERIFY_H
#define SECTWIN_OTA_VERIFY_H
#include <stddef.h>
#include <stdint.h>

#define SECTWIN_OTA_ACCEPTED 0
#define SECTWIN_OTA_OUT_TOO_SMALL (-1)
#define SECTWIN_OTA_NULL (-2)

/* Checks `image` against the proof `bundle` under the device's trust `state`
 * (JSON). Returns SECTWIN_OTA_ACCEPTED with the new state to persist in `out`,
 * or a refusal code (> 0, one per check; see docs/secure-updates.md) with its
 * message in `out`. `*out_len` is the answer's length. `now_unix_secs` is 0
 * without a trusted clock. */
int32_t sectwin_ota_verify(const uint8_t *image, size_t image_len,
                           const uint8_t *bundle, size_t bundle_len,
                           const uint8_t *state, size_t state_len,
                           uint64_t now_unix_secs,
                           uint8_t *out, size_t out_cap, size_t *out_len);
#endif
