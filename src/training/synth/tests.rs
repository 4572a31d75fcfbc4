use super::*;

fn small() -> SynthConfig {
    SynthConfig {
        scale: 0.1,
        ..SynthConfig::default()
    }
}

#[test]
fn generation_is_deterministic() {
    let a = generate(&small());
    let b = generate(&small());
    assert_eq!(a, b);
    let c = generate(&SynthConfig { seed: 1, ..small() });
    assert_ne!(a, c);
}

#[test]
fn every_log_type_and_label_is_represented() {
    let items = generate(&small());
    let summary = summary(&items);
    for lt in [
        "CloudTrail",
        "VPCFlow",
        "ALB",
        "WAF",
        "Route53Resolver",
        "GuardDuty",
        "NetworkFirewallAlert",
        "NetworkFirewallTls",
        "Text",
        "GenericJSON",
    ] {
        assert!(summary.contains_key(lt), "{lt} missing: {summary:?}");
    }
    for c in Category::ALL {
        assert!(items.iter().any(|i| i.label == c), "{c} missing");
    }
    // Attacks are a minority, as in real logs.
    let attacks = items
        .iter()
        .filter(|i| i.label == Category::CriticalSecurity)
        .count();
    let share = attacks as f64 / items.len() as f64;
    assert!((0.02..0.15).contains(&share), "{share}");
    // Labels follow the scenario naming.
    for i in &items {
        match i.label {
            Category::CriticalSecurity => {
                assert!(i.scenario.starts_with("attack/"), "{}", i.scenario)
            }
            Category::Normal => assert!(i.scenario.starts_with("benign/"), "{}", i.scenario),
            _ => assert!(i.scenario.starts_with("ops/"), "{}", i.scenario),
        }
    }
}

#[test]
fn generated_json_is_valid() {
    for item in generate(&small()) {
        if let Raw::Json(text) = &item.raw {
            serde_json::from_str::<serde_json::Value>(text)
                .unwrap_or_else(|e| panic!("{}: {e}: {text}", item.scenario));
        }
    }
}
