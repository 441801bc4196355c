//! What `/api/v1/rules` lists: the filters Prometheus takes, applied to the
//! typed groups the rules views publish, and paging over what is left.
//!
//! Filters read typed fields (group name and file, rule name, type and
//! configured labels); they never look into JSON.

use logbridge_component::api::{Rule, RuleGroup, RuleType};

use crate::selector::{self, Selector};

/// Which rules `/api/v1/rules` lists, from the filters Prometheus takes:
/// `type=alert|record`, any number of `rule_name[]`, `rule_group[]` and
/// `file[]` (each kind of filter matching any of its values), `match[]`
/// series selectors over the rules' configured labels (a rule is listed
/// when one selector matches), `exclude_alerts` (alerting rules without
/// their active alerts), and paging: `group_limit` groups at most, the
/// next page from the `groupNextToken` of the last as `group_next_token`.
#[derive(Debug, Default)]
pub(crate) struct RulesFilter {
    rule_type: Option<RuleType>,
    names: Vec<String>,
    groups: Vec<String>,
    files: Vec<String>,
    /// Matcher sets, any of which must match all its labels.
    selectors: Vec<Selector>,
    exclude_alerts: bool,
    group_limit: Option<usize>,
    group_next_token: Option<String>,
}

/// A boolean query parameter, spelled as Go's `strconv.ParseBool` takes it
/// (Prometheus' parser).
fn query_bool(key: &str, value: &str) -> Result<bool, String> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("{key}: {other:?} is not a boolean")),
    }
}

/// Whether `value` is one of `list`; an empty list lets everything in.
fn listed(list: &[String], value: &str) -> bool {
    list.is_empty() || list.iter().any(|v| v == value)
}

impl RulesFilter {
    /// Reads the query string; a bad value is the `bad_data` error text.
    pub(crate) fn parse(query: Option<&str>) -> Result<Self, String> {
        let mut filter = RulesFilter::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "type" => {
                    filter.rule_type = match &*value {
                        "" => None,
                        "alert" => Some(RuleType::Alerting),
                        "record" => Some(RuleType::Recording),
                        other => {
                            return Err(format!(
                                "unsupported type {other:?}: use \"alert\" or \"record\""
                            ));
                        }
                    }
                }
                "rule_name[]" => filter.names.push(value.into_owned()),
                "rule_group[]" => filter.groups.push(value.into_owned()),
                "file[]" => filter.files.push(value.into_owned()),
                "match[]" => filter.selectors.extend(selector::parse(&value)?),
                "exclude_alerts" => filter.exclude_alerts = query_bool(&key, &value)?,
                "group_limit" => match value.parse::<usize>() {
                    Ok(n) if n > 0 => filter.group_limit = Some(n),
                    _ => {
                        return Err(format!(
                            "group_limit: {value:?} is not a number greater than 0"
                        ));
                    }
                },
                "group_next_token" if !value.is_empty() => {
                    filter.group_next_token = Some(value.into_owned())
                }
                _ => {}
            }
        }
        Ok(filter)
    }

    /// Applies the filter to one group; `None` when the group is filtered
    /// out or left without a rule.
    pub(crate) fn apply(&self, mut group: RuleGroup) -> Option<RuleGroup> {
        if !listed(&self.groups, &group.name) || !listed(&self.files, &group.file) {
            return None;
        }
        group.rules.retain(|rule| {
            self.rule_type.is_none_or(|t| rule.rule_type() == t)
                && listed(&self.names, rule.name())
                && self.labels_match(rule)
        });
        if self.exclude_alerts {
            for rule in &mut group.rules {
                if let Rule::Alerting(alerting) = rule {
                    alerting.alerts = None;
                }
            }
        }
        // As Prometheus: a group left without rules is not listed.
        if group.rules.is_empty() {
            return None;
        }
        Some(group)
    }

    /// One page of the filtered groups, and the token of the next page when
    /// there is one. A token that names no group is an error (its group
    /// is gone, or the token was made up).
    pub(crate) fn page(
        &self,
        mut groups: Vec<RuleGroup>,
    ) -> Result<(Vec<RuleGroup>, Option<String>), String> {
        let Some(limit) = self.group_limit else {
            return Ok((groups, None));
        };
        let start = match &self.group_next_token {
            Some(token) => groups
                .iter()
                .position(|g| &group_token(g) == token)
                .ok_or_else(|| format!("group_next_token {token:?} names no rule group"))?,
            None => 0,
        };
        let mut page = groups.split_off(start);
        let next = page.get(limit).map(group_token);
        page.truncate(limit);
        Ok((page, next))
    }

    /// Whether a rule's configured labels satisfy one of the `match[]`
    /// selectors.
    fn labels_match(&self, rule: &Rule) -> bool {
        self.selectors.is_empty() || self.selectors.iter().any(|s| s.matches(rule.labels()))
    }
}

/// A rule group's paging token: a hash of its file and name, stable while
/// the process runs (clients treat it as opaque).
fn group_token(group: &RuleGroup) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    // Hashed as `Option`s: the tokens stay those of earlier versions.
    Some(group.file.as_str()).hash(&mut h);
    Some(group.name.as_str()).hash(&mut h);
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use logbridge_component::api::{
        Alert, AlertState, AlertingRule, LabelSet, RecordingRule, RuleHealth, RuleStatus,
    };

    fn status() -> RuleStatus {
        RuleStatus {
            health: RuleHealth::Ok,
            last_error: None,
            evaluation_time: 0.0,
            last_evaluation: "0001-01-01T00:00:00Z".into(),
        }
    }

    fn alerting(name: &str, labels: &[(&str, &str)], alerts: Vec<Alert>) -> Rule {
        Rule::Alerting(AlertingRule {
            state: AlertState::Inactive,
            name: name.into(),
            query: "up == 0".into(),
            duration: 0.0,
            keep_firing_for: 0.0,
            labels: labels.iter().copied().collect(),
            annotations: LabelSet::default(),
            alerts: Some(alerts),
            rule_type: RuleType::Alerting,
            status: status(),
        })
    }

    fn recording(name: &str) -> Rule {
        Rule::Recording(RecordingRule {
            name: name.into(),
            query: "sum(up)".into(),
            labels: LabelSet::default(),
            rule_type: RuleType::Recording,
            status: status(),
        })
    }

    fn firing() -> Alert {
        Alert {
            labels: LabelSet::default(),
            annotations: LabelSet::default(),
            state: AlertState::Firing,
            active_at: "1970-01-01T00:00:00.000Z".into(),
            value: "1e+00".into(),
            keep_firing_since: None,
        }
    }

    fn group(name: &str, file: &str, rules: Vec<Rule>) -> RuleGroup {
        RuleGroup {
            name: name.into(),
            file: file.into(),
            rules,
            interval: 60.0,
            limit: 0,
            evaluation_time: 0.0,
            last_evaluation: "0001-01-01T00:00:00Z".into(),
        }
    }

    fn groups() -> Vec<RuleGroup> {
        vec![
            group(
                "api",
                "a.yml",
                vec![
                    alerting("Down", &[("severity", "page")], vec![firing()]),
                    recording("job:up"),
                ],
            ),
            group(
                "db",
                "b.yml",
                vec![alerting(
                    "Slow",
                    &[("severity", "ticket"), ("team", "db")],
                    vec![],
                )],
            ),
        ]
    }

    /// Group name: rule names, for the groups a query keeps.
    fn listed(query: &str) -> Vec<String> {
        let filter = RulesFilter::parse(Some(query)).unwrap();
        groups()
            .into_iter()
            .filter_map(|g| filter.apply(g))
            .map(|g| {
                let rules: Vec<&str> = g.rules.iter().map(Rule::name).collect();
                format!("{}: {}", g.name, rules.join(" "))
            })
            .collect()
    }

    #[test]
    fn rules_filters_as_prometheus_takes_them() {
        assert_eq!(listed(""), ["api: Down job:up", "db: Slow"]);
        assert_eq!(listed("type=record"), ["api: job:up"]);
        assert_eq!(
            listed("rule_name[]=Down&rule_name%5B%5D=Slow"),
            ["api: Down", "db: Slow"]
        );
        assert_eq!(listed("rule_name[]=job:up"), ["api: job:up"]);
        assert_eq!(listed("rule_group[]=db"), ["db: Slow"]);
        assert_eq!(listed("file[]=a.yml&type=alert"), ["api: Down"]);
        assert_eq!(listed("rule_name[]=nothing"), Vec::<String>::new());
        assert!(RulesFilter::parse(Some("type=other")).is_err());
    }

    fn match_query(selector: &str) -> String {
        format!(
            "match[]={}",
            form_urlencoded::byte_serialize(selector.as_bytes()).collect::<String>()
        )
    }

    #[cfg(feature = "rules")]
    #[test]
    fn rules_match_selectors_over_configured_labels() {
        let q = match_query;
        assert_eq!(listed(&q(r#"{severity="page"}"#)), ["api: Down"]);
        assert_eq!(
            listed(&q(r#"{severity=~"page|ticket"}"#)),
            ["api: Down", "db: Slow"]
        );
        // A missing label reads as empty; a selector matching only empty
        // labels is refused, as PromQL refuses it.
        assert_eq!(listed(&q(r#"{severity=~".+", team!="db"}"#)), ["api: Down"]);
        assert!(RulesFilter::parse(Some(&q(r#"{team!="db"}"#))).is_err());
        // One selector of several is enough; an `or` branch is one.
        assert_eq!(
            listed(&format!(
                "{}&{}",
                q(r#"{team="db"}"#),
                q(r#"{severity="page"}"#)
            )),
            ["api: Down", "db: Slow"]
        );
        assert_eq!(
            listed(&q(r#"{team="db" or severity="page"}"#)),
            ["api: Down", "db: Slow"]
        );
        // Rule labels have no metric name, as in Prometheus.
        assert_eq!(listed(&q("up")), Vec::<String>::new());
        let bad = RulesFilter::parse(Some(&q("rate(up[5m])"))).unwrap_err();
        assert!(bad.contains("not a series selector"), "{bad}");
        assert!(RulesFilter::parse(Some(&q("{"))).is_err());
    }

    #[cfg(not(feature = "rules"))]
    #[test]
    fn without_the_rules_feature_match_is_refused() {
        let error = RulesFilter::parse(Some(&match_query(r#"{severity="page"}"#))).unwrap_err();
        assert_eq!(
            error,
            "match[] is not supported: the rules feature is not built in"
        );
        assert_eq!(listed("type=alert"), ["api: Down", "db: Slow"]);
    }

    #[test]
    fn exclude_alerts_drops_the_alerts_of_alerting_rules() {
        let alerts = |query: &str| -> Vec<bool> {
            let filter = RulesFilter::parse(Some(query)).unwrap();
            groups()
                .into_iter()
                .filter_map(|g| filter.apply(g))
                .flat_map(|g| g.rules)
                .map(|r| matches!(r, Rule::Alerting(a) if a.alerts.is_some()))
                .collect()
        };
        assert_eq!(alerts(""), [true, false, true]);
        assert_eq!(alerts("exclude_alerts=true"), [false, false, false]);
        assert_eq!(alerts("exclude_alerts=false"), [true, false, true]);
        assert_eq!(alerts("exclude_alerts=1"), [false, false, false]);
        assert!(RulesFilter::parse(Some("exclude_alerts=yes")).is_err());
        // Left out of the JSON, as Prometheus leaves it out.
        let filter = RulesFilter::parse(Some("exclude_alerts=true")).unwrap();
        let json = serde_json::to_string(&filter.apply(groups().remove(0)).unwrap()).unwrap();
        assert!(!json.contains("\"alerts\""), "{json}");
    }

    #[test]
    fn group_limit_pages_through_the_groups() {
        let three = || {
            let mut g = groups();
            g.push(group(
                "cache",
                "b.yml",
                vec![alerting("Evictions", &[], vec![])],
            ));
            g
        };
        let page = |query: &str| {
            let filter = RulesFilter::parse(Some(query))?;
            let kept: Vec<_> = three()
                .into_iter()
                .filter_map(|g| filter.apply(g))
                .collect();
            let (groups, next) = filter.page(kept)?;
            let names: Vec<String> = groups.into_iter().map(|g| g.name).collect();
            Ok::<_, String>((names, next))
        };
        assert_eq!(
            page("").unwrap(),
            (vec!["api".into(), "db".into(), "cache".into()], None)
        );
        let (first, token) = page("group_limit=2").unwrap();
        assert_eq!(first, ["api", "db"]);
        let token = token.expect("a next page");
        let (second, last) = page(&format!("group_limit=2&group_next_token={token}")).unwrap();
        assert_eq!((second, last), (vec!["cache".to_string()], None));
        // Filters apply before paging.
        let (only, next) = page("group_limit=1&type=record").unwrap();
        assert_eq!((only, next), (vec!["api".to_string()], None));
        assert!(page("group_limit=0").is_err());
        assert!(page("group_limit=x").is_err());
        let unknown = page("group_limit=1&group_next_token=feedfacefeedface").unwrap_err();
        assert!(unknown.contains("names no rule group"), "{unknown}");
    }
}
