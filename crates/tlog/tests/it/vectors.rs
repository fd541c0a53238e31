//! Where the outside test vectors are: `$SECTWIN_VECTORS`, or
//! `../shared/vectors` beside the repository. They are data the project may
//! use in tests but not copy into its source (`../shared/vectors/README.md`),
//! so the tests that read them are ignored by default (with the reason
//! below) and run by `.ci/test`'s `vectors` stage when they are there. Run by
//! hand, such a test fails, saying how to get them, rather than passing
//! without checking anything.

use std::path::PathBuf;

/// Why the tests that read the outside vectors are ignored by default.
pub const IGNORE_REASON: &str = "needs the outside vectors: ../shared/vectors or SECTWIN_VECTORS";

/// `sub` (e.g. `merkle/testdata`) under the vectors directory; panics with
/// how to get the vectors when it is not there.
pub fn dir(sub: &str) -> PathBuf {
    let (base, from) = match std::env::var_os("SECTWIN_VECTORS") {
        Some(v) => (PathBuf::from(v), "SECTWIN_VECTORS"),
        None => (
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
            "../shared/vectors beside the repository",
        ),
    };
    let d = base.join(sub);
    assert!(
        d.is_dir(),
        "{IGNORE_REASON}: {} (from {from}) does not exist. Put the shared checkout beside \
         the repository (../shared/vectors) or set SECTWIN_VECTORS to a directory holding \
         merkle/testdata (transparency-dev/merkle's testdata/, at the commit named in \
         merkle/SOURCE_COMMIT) and tessera-log/ (Trillian Tessera's test log); see \
         ../shared/vectors/README.md",
        d.display()
    );
    d
}
