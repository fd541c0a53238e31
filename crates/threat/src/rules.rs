//! The rule library as data: YAML rule files (the default library embedded
//! from `crates/threat/rules/`, users' files added beside it), each rule with
//! an id, a STRIDE category, the element types or flows it targets, a
//! condition in the expression language ([`crate::expr`]), a description,
//! mitigations, references and a CVSS v3.1 base vector, all checked when
//! loaded: a condition error points at the line and column of the rule file.
//!
//! Deliberately absent: reading directories (the caller passes each file's
//! name and text) and any rule written in code.

use std::collections::BTreeSet;
use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use vuln::cvss::{CvssVector, CvssVersion};

use crate::expr::{Expr, Root};
use crate::model::{locate, ElementType, ModelError};

/// Largest rule file accepted, in bytes.
pub const RULE_FILE_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Most rules in a rule set.
pub const RULES_MAX: usize = 10_000;

/// The default library, embedded: (file name, text).
pub const DEFAULT_RULE_FILES: [(&str, &str); 5] = [
    ("stride.yaml", include_str!("../rules/stride.yaml")),
    ("iot.yaml", include_str!("../rules/iot.yaml")),
    ("ai.yaml", include_str!("../rules/ai.yaml")),
    ("llm.yaml", include_str!("../rules/llm.yaml")),
    ("appsec.yaml", include_str!("../rules/appsec.yaml")),
];

/// A STRIDE category.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stride {
    /// Spoofing identity.
    Spoofing,
    /// Tampering with data or code.
    Tampering,
    /// Repudiation.
    Repudiation,
    /// Information disclosure.
    InformationDisclosure,
    /// Denial of service.
    DenialOfService,
    /// Elevation of privilege.
    ElevationOfPrivilege,
}

impl Stride {
    /// The six categories in STRIDE order.
    pub const ALL: [Stride; 6] = [
        Stride::Spoofing,
        Stride::Tampering,
        Stride::Repudiation,
        Stride::InformationDisclosure,
        Stride::DenialOfService,
        Stride::ElevationOfPrivilege,
    ];

    /// The name used in rule files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Stride::Spoofing => "spoofing",
            Stride::Tampering => "tampering",
            Stride::Repudiation => "repudiation",
            Stride::InformationDisclosure => "information_disclosure",
            Stride::DenialOfService => "denial_of_service",
            Stride::ElevationOfPrivilege => "elevation_of_privilege",
        }
    }

    /// The name for people ("Information disclosure").
    pub fn title(self) -> &'static str {
        match self {
            Stride::Spoofing => "Spoofing",
            Stride::Tampering => "Tampering",
            Stride::Repudiation => "Repudiation",
            Stride::InformationDisclosure => "Information disclosure",
            Stride::DenialOfService => "Denial of service",
            Stride::ElevationOfPrivilege => "Elevation of privilege",
        }
    }
}

impl fmt::Display for Stride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a rule is evaluated on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Elements of these types.
    Elements(BTreeSet<ElementType>),
    /// Data flows.
    Flows,
}

/// A rule as written in a rule file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// Unique id, e.g. `IOT-DEFAULT-CREDENTIALS`.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// STRIDE category.
    pub stride: Stride,
    /// Element types (`device`, `gateway`, ...), or `flow`.
    pub targets: Vec<String>,
    /// When the threat applies (see the expression language); `true` for always.
    pub condition: String,
    /// What can happen and why.
    pub description: String,
    /// What to do about it.
    #[serde(default)]
    pub mitigations: Vec<String>,
    /// CWE, CAPEC, OWASP IoT Top 10, MITRE ATLAS, ETSI EN 303 645 references.
    #[serde(default)]
    pub references: Vec<String>,
    /// CVSS v3.1 base vector of the threat when it applies.
    pub cvss: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFileDef {
    rules: Vec<RuleDef>,
}

/// A checked rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule as written.
    pub def: RuleDef,
    /// What it targets.
    pub targets: Targets,
    /// Its parsed condition.
    pub condition: Expr,
    /// Its parsed CVSS vector.
    pub cvss: CvssVector,
    /// The file it came from.
    pub file: String,
}

/// A set of rules with unique ids.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// The rules, in load order.
    pub rules: Vec<Rule>,
}

impl RuleSet {
    /// The default library.
    pub fn default_library() -> Result<RuleSet, ModelError> {
        let mut set = RuleSet::default();
        for (name, text) in DEFAULT_RULE_FILES {
            set.add_file(name, text)?;
        }
        Ok(set)
    }

    /// Adds the rules of one file; errors name the file, line and column.
    pub fn add_file(&mut self, name: &str, text: &str) -> Result<(), ModelError> {
        let err = |position, message: String| ModelError {
            position,
            message: format!("{name}: {message}"),
        };
        if text.len() > RULE_FILE_BYTES_MAX {
            return Err(err(
                None,
                format!("larger than {RULE_FILE_BYTES_MAX} bytes"),
            ));
        }
        let file: RuleFileDef = serde_norway::from_str(text).map_err(|e| {
            let m = ModelError::yaml(&e);
            err(m.position, m.message)
        })?;
        if self.rules.len() + file.rules.len() > RULES_MAX {
            return Err(err(None, format!("more than {RULES_MAX} rules")));
        }
        for def in file.rules {
            let at = |m: String| err(locate(text, &def.id), format!("rule {}: {m}", def.id));
            if def.id.is_empty() || self.rules.iter().any(|r| r.def.id == def.id) {
                return Err(at("duplicate or empty rule id".into()));
            }
            let targets = if def.targets == ["flow"] {
                Targets::Flows
            } else {
                let mut set = BTreeSet::new();
                for t in &def.targets {
                    if t == "flow" {
                        return Err(at(
                            "a rule targets either flows or elements, not both".into()
                        ));
                    }
                    let kind =
                        ElementType::parse(t).ok_or_else(|| at(format!("unknown target {t:?}")))?;
                    set.insert(kind);
                }
                if set.is_empty() {
                    return Err(at("no targets".into()));
                }
                Targets::Elements(set)
            };
            let condition = Expr::parse(&def.condition).map_err(|e| {
                let pos = condition_position(text, &def.id, e.line, e.col);
                err(pos, format!("rule {}: condition: {}", def.id, e.message))
            })?;
            let allowed: &[Root] = match targets {
                Targets::Flows => &[Root::Flow, Root::Source, Root::Target],
                Targets::Elements(_) => &[Root::Element],
            };
            if let Some(r) = condition.roots().into_iter().find(|r| !allowed.contains(r)) {
                let pos = condition_position(text, &def.id, 1, 1);
                return Err(err(
                    pos,
                    format!(
                        "rule {}: condition reads `{}.`, which this rule's targets do not have",
                        def.id,
                        r.as_str()
                    ),
                ));
            }
            let cvss = CvssVector::parse(&def.cvss)
                .map_err(|e| at(format!("cvss {:?}: {e}", def.cvss)))?;
            if cvss.version() != CvssVersion::V3_1 {
                return Err(at(format!("cvss {:?} is not a CVSS v3.1 vector", def.cvss)));
            }
            self.rules.push(Rule {
                def,
                targets,
                condition,
                cvss,
                file: name.to_string(),
            });
        }
        Ok(())
    }
}

/// Maps a position inside a rule's condition to the rule file: the line of
/// `condition:` after the rule's `id:` line; a block scalar (`|`, `>`)
/// starts on the next line at its indentation, a quoted one after its quote.
fn condition_position(text: &str, id: &str, line: usize, col: usize) -> Option<(usize, usize)> {
    let (id_line, _) = locate(text, id)?;
    let lines: Vec<&str> = text.lines().collect();
    let (offset, cond) = lines
        .iter()
        .enumerate()
        .skip(id_line.saturating_sub(1))
        .find(|(_, l)| l.trim_start().starts_with("condition:"))?;
    let key_col = cond.find("condition:")? + "condition:".len();
    let rest = cond.get(key_col..)?;
    let value_col = key_col + (rest.len() - rest.trim_start().len());
    let first = rest.trim_start();
    if first.starts_with('|') || first.starts_with('>') {
        let body = lines.get(offset + line)?;
        let indent = body.len() - body.trim_start().len();
        Some((offset + 1 + line, indent + col))
    } else {
        let quote = usize::from(first.starts_with('"') || first.starts_with('\''));
        Some((offset + line, value_col + quote + col))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_library_loads() {
        let set = RuleSet::default_library().unwrap_or_else(|e| panic!("{e}"));
        assert!(set.rules.len() >= 35, "{}", set.rules.len());
        for t in ElementType::ALL {
            let covered: BTreeSet<Stride> = set
                .rules
                .iter()
                .filter(|r| matches!(&r.targets, Targets::Elements(s) if s.contains(&t)))
                .map(|r| r.def.stride)
                .collect();
            // STRIDE per element: external entities get S and R only.
            let want = if t == ElementType::ExternalEntity {
                2
            } else {
                3
            };
            assert!(covered.len() >= want, "{t}: only {covered:?}");
        }
    }

    #[test]
    fn condition_errors_point_into_the_rule_file() {
        let text = "rules:\n  - id: R1\n    title: t\n    stride: spoofing\n    targets: [device]\n    condition: 'element.a = 1'\n    description: d\n    cvss: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N\n";
        let e = RuleSet::default()
            .add_file("mine.yaml", text)
            .expect_err("bad condition");
        assert_eq!(e.position, Some((6, 27)), "{e}");
        assert!(e.message.contains("mine.yaml: rule R1"), "{e}");
        let block = text.replace(
            "condition: 'element.a = 1'",
            "condition: |\n      element.a == 1 and\n      element.b = 2",
        );
        let e = RuleSet::default()
            .add_file("mine.yaml", &block)
            .expect_err("bad condition");
        assert_eq!(e.position, Some((8, 17)), "{e}");
    }

    #[test]
    fn rule_files_are_checked() {
        let base = "rules:\n  - id: R1\n    title: t\n    stride: spoofing\n    targets: [device]\n    condition: 'true'\n    description: d\n    cvss: CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N\n";
        for (from, to, needle) in [
            ("targets: [device]", "targets: [toaster]", "unknown target"),
            (
                "targets: [device]",
                "targets: [device, flow]",
                "either flows or elements",
            ),
            (
                "condition: 'true'",
                "condition: 'flow.encrypted'",
                "targets do not have",
            ),
            ("CVSS:3.1/AV:N", "CVSS:3.0/AV:N", "not a CVSS v3.1"),
            ("stride: spoofing", "stride: spoof", "unknown variant"),
            ("title: t", "title: t\n    colour: red", "unknown field"),
        ] {
            let e = RuleSet::default()
                .add_file("x.yaml", &base.replace(from, to))
                .expect_err(to);
            assert!(e.message.contains(needle), "{to}: {e}");
        }
        let mut set = RuleSet::default();
        set.add_file("a.yaml", base).expect("first");
        let e = set.add_file("b.yaml", base).expect_err("duplicate");
        assert!(e.to_string().contains("duplicate"), "{e}");
    }
}
