//! Fuzz target: the SBOM parsers (CycloneDX, SPDX), the CycloneDX VEX reader
//! and format detection must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vuln_formats::detect(data);
    let _ = vuln_formats::cyclonedx::parse(data);
    let _ = vuln_formats::cyclonedx::parse_vex(data);
    let _ = vuln_formats::spdx::parse(data);
});
