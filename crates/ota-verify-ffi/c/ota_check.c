/* A device's update check, linked only with the verifier:
 *   ota-check IMAGE BUNDLE STATE [NEW_STATE]
 * exit 0 and the new state written (to NEW_STATE, or printed) if accepted;
 * otherwise the refusal's code as the exit status and its message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include "ota_verify.h"

static uint8_t *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); exit(100); }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(100); }
  fclose(f);
  *len = (size_t)n;
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s IMAGE BUNDLE STATE [NEW_STATE]\n", argv[0]);
    return 100;
  }
  size_t image_len, bundle_len, state_len, out_len = 0;
  uint8_t *image = slurp(argv[1], &image_len);
  uint8_t *bundle = slurp(argv[2], &bundle_len);
  uint8_t *state = slurp(argv[3], &state_len);
  static uint8_t out[128 * 1024];
  int32_t rc = sectwin_ota_verify(image, image_len, bundle, bundle_len, state,
                                  state_len, 0, out, sizeof out, &out_len);
  if (rc == SECTWIN_OTA_ACCEPTED) {
    FILE *f = argc > 4 ? fopen(argv[4], "wb") : stdout;
    if (!f || fwrite(out, 1, out_len, f) != out_len) { perror("new state"); return 100; }
    if (f != stdout) fclose(f);
    fprintf(stderr, "accepted\n");
    return 0;
  }
  if (rc < 0) { fprintf(stderr, "error %d\n", rc); return 101; }
  fprintf(stderr, "refused (%d): %.*s\n", rc, (int)out_len, (const char *)out);
  return rc;
}
