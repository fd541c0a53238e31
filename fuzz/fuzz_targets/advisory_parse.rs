//! Fuzz target: the advisory and VEX parsers (OSV, CVE 5, NVD API 2.0, CSAF,
//! OpenVEX) must never panic, whatever the bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = vuln_formats::osv::parse(data);
    let _ = vuln_formats::cve5::parse(data);
    let _ = vuln_formats::nvd::parse(data);
    let _ = vuln_formats::csaf::parse(data);
    let _ = vuln_formats::csaf::parse_vex(data);
    let _ = vuln_formats::openvex::parse(data);
});
