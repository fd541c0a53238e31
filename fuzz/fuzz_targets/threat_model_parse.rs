//! Fuzzes `threat::model::Model::parse`: never panics; an accepted model is
//! analyzed with the default rule library without panicking, and its YAML
//! form re-parses to the same model.
#![no_main]
use libfuzzer_sys::fuzz_target;
use threat::analysis::{analyze, AnalysisOptions};
use threat::model::Model;
use threat::rules::RuleSet;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(m) = Model::parse(s) {
            let rules = RuleSet::default_library().expect("default library loads");
            let day = risk::Date::parse("2026-01-01").expect("date");
            let options = AnalysisOptions {
                found: day,
                today: day,
                policy: risk::DeadlinePolicy::default(),
                suppressions: Vec::new(),
            };
            let _ = analyze(&m, &rules, &options);
            let yaml = m.to_yaml().expect("serializes");
            assert_eq!(Model::parse(&yaml).expect("re-parses"), m);
        }
    }
});
