//! Typed query strings (`http_api::query`): for each query of `/api/v1`, an
//! unknown parameter is a 400 that names it (and the parameters there are),
//! a value of the wrong type is a 400 that names its parameter, and a good
//! query parses. Range checks (a page size of 0) are the service's, tested
//! there and end to end in `node`.

use api_types::notify::{DeliveryQuery, DeliveryStatus};
use api_types::risks::{ExposureQuery, NoParameters, RiskQuery, VexQuery};
use api_types::twins::{DeviceFilter, DeviceQuery, PageQuery, PolicyKind, PolicyQuery, ReadsQuery};
use axum::response::IntoResponse;
use http_api::query::{parse, QueryParams};

/// The status and the problem's `detail` of a refused query.
async fn refusal<T: QueryParams + std::fmt::Debug>(query: &str) -> (u16, String) {
    let Err(e) = parse::<T>(query) else {
        panic!("{query:?} was accepted");
    };
    let response = e.into_response();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .expect("body");
    let problem: api_types::Problem = serde_json::from_slice(&body).expect("a problem");
    assert_eq!(problem.status, status);
    (status, problem.detail)
}

/// `query` is refused with 400, and the message says each of `says`.
async fn refused<T: QueryParams + std::fmt::Debug>(query: &str, says: &[&str]) {
    let (status, detail) = refusal::<T>(query).await;
    assert_eq!(status, 400, "{query}: {detail}");
    for s in says {
        assert!(detail.contains(s), "{query}: {detail:?} does not say {s:?}");
    }
}

#[tokio::test]
async fn policy_query() {
    let q: PolicyQuery = parse("stakeholder=acme.test&kind=ai-use&at=7").expect("parses");
    assert_eq!(
        q,
        PolicyQuery {
            stakeholder: Some("acme.test".into()),
            kind: Some(PolicyKind::AiUse),
            at: Some(7),
        }
    );
    refused::<PolicyQuery>(
        "owner=op.test",
        &[r#"unknown parameter "owner"; expected stakeholder, kind or at"#],
    )
    .await;
    refused::<PolicyQuery>(
        "kind=privacy",
        &[r#"unknown policy kind "privacy"; expected sharing, transparency or ai-use"#],
    )
    .await;
    refused::<PolicyQuery>("at=soon", &[r#"at="soon" is not a log position"#]).await;
    refused::<PolicyQuery>("at=-1", &[r#"at="-1" is not a log position"#]).await;
}

#[tokio::test]
async fn device_query() {
    let q: DeviceQuery =
        parse("site=HQ&lifecycle=in_maintenance&page_size=5&page_token=abc").expect("parses");
    let (page, filter) = q.split();
    assert_eq!(page.page_size, Some(5));
    assert_eq!(page.page_token.as_deref(), Some("abc"));
    assert_eq!(
        filter.pairs(),
        vec![("site", "HQ"), ("lifecycle", "in_maintenance")]
    );
    refused::<DeviceQuery>(
        "colour=red",
        &[
            r#"unknown filter "colour""#,
            "devices can be searched by manufacturer, model,",
        ],
    )
    .await;
    refused::<DeviceQuery>("lifecycle=lost", &["lifecycle", "lost"]).await;
    refused::<DeviceQuery>("page_size=many", &["page_size"]).await;
    refused::<DeviceQuery>("page_size=-1", &["page_size"]).await;
}

#[tokio::test]
async fn device_count_query() {
    let f: DeviceFilter = parse("model=DC-200&group=g%201").expect("parses");
    assert_eq!(f.pairs(), vec![("model", "DC-200"), ("group", "g 1")]);
    // A count has no pages.
    refused::<DeviceFilter>("page_size=10", &[r#"unknown filter "page_size""#]).await;
    refused::<DeviceFilter>("colour=red", &[r#"unknown filter "colour""#]).await;
    refused::<DeviceFilter>("lifecycle=lost", &["lifecycle", "lost"]).await;
}

#[tokio::test]
async fn timeline_query() {
    let q: PageQuery = parse("page_size=1000").expect("parses");
    assert_eq!(q.page_size, Some(1000));
    refused::<PageQuery>(
        "colour=red",
        &[r#"unknown parameter "colour"; expected page_size or page_token"#],
    )
    .await;
    refused::<PageQuery>("page_size=ten", &[r#"bad query parameter "page_size""#]).await;
}

#[tokio::test]
async fn reads_query() {
    let q: ReadsQuery = parse("owner=acme.test").expect("parses");
    assert_eq!(q.owner.as_deref(), Some("acme.test"));
    refused::<ReadsQuery>(
        "reader=x",
        &[r#"unknown parameter "reader"; expected owner, page_size or page_token"#],
    )
    .await;
    refused::<ReadsQuery>("page_size=1.5", &[r#"bad query parameter "page_size""#]).await;
}

#[tokio::test]
async fn delivery_query() {
    let q: DeliveryQuery = parse("status=failed").expect("parses");
    assert_eq!(q.status, Some(DeliveryStatus::Failed));
    assert_eq!(parse::<DeliveryQuery>("").expect("parses").status, None);
    refused::<DeliveryQuery>(
        "kind=vex-changed",
        &[r#"unknown parameter "kind"; expected status"#],
    )
    .await;
    refused::<DeliveryQuery>(
        "status=lost",
        &[r#"bad query parameter "status""#, "pending"],
    )
    .await;
}

#[tokio::test]
async fn risk_queries() {
    let q: RiskQuery = parse("overdue=true&page_size=3").expect("parses");
    assert_eq!((q.overdue, q.page_size), (Some(true), Some(3)));
    refused::<RiskQuery>("colour=red", &[r#"unknown parameter "colour""#]).await;
    refused::<RiskQuery>("overdue=maybe", &[r#"bad query parameter "overdue""#]).await;
    refused::<ExposureQuery>("by=color", &[r#"bad query parameter "by""#]).await;
    refused::<VexQuery>("model=m&colour=red", &[r#"unknown parameter "colour""#]).await;
    refused::<NoParameters>(
        "x=1",
        &[r#"unknown parameter "x": this route takes no parameters"#],
    )
    .await;
}

/// A parameter given twice is refused, naming it.
#[tokio::test]
async fn a_repeated_parameter_is_refused() {
    refused::<PageQuery>("page_size=1&page_size=2", &["page_size"]).await;
}
