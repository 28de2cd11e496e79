//! Faults: token buckets, seeded 503s and dropped connections, latency, read lag and the statistics endpoint.

use super::*;

#[tokio::test]
async fn throttled_run_sees_429_with_retry_after_and_recovers_on_the_clock() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.throttle = Some("3/1s".parse().unwrap())).await;
    let t = emu.app_token().await;
    for _ in 0..3 {
        assert_eq!(emu.get(&phones("lee@contoso.com"), &t).await.status, 200);
    }
    let r = emu.get(&phones("lee@contoso.com"), &t).await;
    r.assert_error(429, "TooManyRequests");
    let ra: f64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(ra > 0.0 && ra <= 1.0, "{ra}");
    emu.clock.advance(Duration::from_secs_f64(ra));
    assert_eq!(emu.get(&phones("lee@contoso.com"), &t).await.status, 200);
    // Batch items are charged one by one: a 3-item batch after a full window gets one 429 item with Retry-After.
    emu.clock.advance(Duration::from_secs(1));
    let body = json!({"requests": (1..=4).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/lee@contoso.com/authentication/phoneMethods"})).collect::<Vec<_>>()});
    let r = emu.post("/$batch", &t, body).await;
    assert_eq!(r.status, 200);
    let throttled: Vec<&Value> = r.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status"] == json!(429))
        .collect();
    assert_eq!(throttled.len(), 1);
    assert!(throttled[0]["headers"]["Retry-After"].is_string());
    assert_eq!(emu.stats().throttled, 2);
}

#[tokio::test]
async fn write_bucket_throttles_only_writes() {
    let emu = Emu::start_with(SMALL_TENANT, |o| {
        o.write_throttle = Some("2/150s".parse().unwrap())
    })
    .await;
    let t = emu.app_token().await;
    for n in ["+1 4255550101", "+1 4255550102"] {
        assert_eq!(
            emu.patch(
                &phone("lee@contoso.com", OFFICE),
                &t,
                json!({"phoneNumber": n})
            )
            .await
            .status,
            204
        );
    }
    let r = emu
        .patch(
            &phone("lee@contoso.com", OFFICE),
            &t,
            json!({"phoneNumber": "+1 4255550103"}),
        )
        .await;
    r.assert_error(429, "TooManyRequests");
    assert_eq!(r.header("retry-after").as_deref(), Some("75"));
    assert_eq!(
        emu.get(&phone("lee@contoso.com", OFFICE), &t).await.body["phoneNumber"],
        json!("+1 4255550102"),
        "not applied"
    );
}

async fn fault_sequence(seed: u64) -> Vec<u16> {
    let emu = Emu::start_with(SMALL_TENANT, |o| {
        o.seed = seed;
        o.fail_prob = 0.3;
    })
    .await;
    let t = emu.app_token().await;
    let mut out = Vec::new();
    for _ in 0..40 {
        let r = emu.get(&phones("lee@contoso.com"), &t).await;
        if r.status == 503 {
            r.assert_error(503, "serviceNotAvailable");
        }
        out.push(r.status);
    }
    out
}

#[tokio::test]
async fn same_seed_same_fault_sequence() {
    let a = fault_sequence(7).await;
    let b = fault_sequence(7).await;
    let c = fault_sequence(8).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert!(a.contains(&503) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn dropped_connection_after_the_write_was_applied() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.drop_prob = 1.0).await;
    let t = emu.handle.mint_token(TokenSpec::default());
    let r = emu
        .http
        .post(format!("{}{}", emu.graph_url(), phones("kim@contoso.com")))
        .bearer_auth(&t)
        .json(&json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile"}))
        .send()
        .await;
    assert!(r.is_err(), "no answer: {r:?}");
    // The create happened although nobody was told (the client must re-read: outcome unknown).
    assert_eq!(
        emu.snapshot().user("kim@contoso.com").unwrap().phones.len(),
        1
    );
    assert_eq!(emu.stats().dropped, 1);
}

#[tokio::test]
async fn latency_uses_the_clock_and_a_batch_costs_one() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.latency = Duration::from_millis(20)).await;
    let t = emu.handle.mint_token(TokenSpec::default());
    let t0 = emu.handle.state().now();
    emu.get(&phones("lee@contoso.com"), &t).await;
    assert_eq!(
        authctl::clock::since(emu.handle.state().now(), t0),
        Duration::from_millis(20)
    );
    let body = json!({"requests": (1..=5).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/lee@contoso.com"})).collect::<Vec<_>>()});
    emu.post("/$batch", &t, body).await;
    assert_eq!(
        authctl::clock::since(emu.handle.state().now(), t0),
        Duration::from_millis(40)
    );
}

#[tokio::test]
async fn lag_reads_see_the_state_of_lag_ago() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.lag = Duration::from_secs(5)).await;
    let t = emu.app_token().await;
    assert_eq!(
        emu.patch(
            &phone("lee@contoso.com", OFFICE),
            &t,
            json!({"phoneNumber": "+1 4255550555"})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        emu.get(&phone("lee@contoso.com", OFFICE), &t).await.body["phoneNumber"],
        json!("+1 4255550004x12"),
        "old value"
    );
    assert_eq!(
        emu.post(
            &phones("kim@contoso.com"),
            &t,
            json!({"phoneNumber": "+1 2065550003", "phoneType": "mobile"})
        )
        .await
        .status,
        201
    );
    assert_eq!(
        emu.get(&phones("kim@contoso.com"), &t).await.body["value"],
        json!([]),
        "not yet visible"
    );
    emu.clock.advance(Duration::from_secs(5));
    assert_eq!(
        emu.get(&phone("lee@contoso.com", OFFICE), &t).await.body["phoneNumber"],
        json!("+1 4255550555")
    );
    assert_eq!(
        emu.get(&phones("kim@contoso.com"), &t).await.body["value"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn stats_endpoint_counts_routes_statuses_batches_and_429s() {
    let emu = Emu::start_with(SMALL_TENANT, |o| o.throttle = Some("2/1s".parse().unwrap())).await;
    let t = emu.handle.mint_token(TokenSpec::default());
    emu.get(&phones("lee@contoso.com"), &t).await;
    emu.get(&phones("nobody@contoso.com"), &t).await;
    emu.get(&phones("lee@contoso.com"), &t).await;
    let s: Value = emu
        .http
        .get(format!("{}/_emulator/stats", emu.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        s["byRoute"]["GET /users/{id}/authentication/phoneMethods"]["200"],
        json!(1)
    );
    assert_eq!(
        s["byRoute"]["GET /users/{id}/authentication/phoneMethods"]["404"],
        json!(1)
    );
    assert_eq!(
        s["byRoute"]["GET /users/{id}/authentication/phoneMethods"]["429"],
        json!(1)
    );
    assert_eq!(s["throttled"], json!(1));
    assert_eq!(s["httpRequests"], json!(3));
}

#[tokio::test]
async fn graph_profile_charges_resource_units_per_app_and_batch_items_one_by_one() {
    let emu = Emu::start_with(SMALL_TENANT, |o| {
        o.throttle_profile = Some(authctl::emulator::ThrottleProfile::Small)
    })
    .await;
    let t = emu.app_token().await;
    let cost = |r: &Reply| r.header("x-ms-resource-unit");
    assert_eq!(
        cost(&emu.get("/users/kim@contoso.com", &t).await).as_deref(),
        Some("2")
    );
    assert_eq!(
        cost(&emu.get("/users/kim@contoso.com?$select=id", &t).await).as_deref(),
        Some("1")
    );
    assert_eq!(
        cost(&emu.get(&phones("kim@contoso.com"), &t).await).as_deref(),
        Some("1")
    );
    // 4 RU spent; 20 user reads a batch cost 40 RU: 87 batches leave 16 RU, so the 88th has 12 items throttled.
    let batch = json!({"requests": (1..=20).map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/kim@contoso.com"})).collect::<Vec<_>>()});
    for _ in 0..87 {
        let r = emu.post("/$batch", &t, batch.clone()).await;
        assert!(
            r.body["responses"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| x["status"] == json!(200))
        );
    }
    let r = emu.post("/$batch", &t, batch.clone()).await;
    let throttled: Vec<&Value> = r.body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status"] == json!(429))
        .collect();
    assert_eq!(throttled.len(), 12, "{}", r.body);
    let h = &throttled[0]["headers"];
    let ra: u64 = h["Retry-After"]
        .as_str()
        .unwrap()
        .parse()
        .expect("whole seconds");
    assert!(ra >= 1);
    assert_eq!(
        h["x-ms-throttle-scope"],
        json!(
            "Tenant_Application/ReadWrite/00000000-0000-4000-8000-0000000000aa/00000000-0000-4000-8000-00000000a001"
        )
    );
    assert_eq!(
        h["x-ms-throttle-information"],
        json!("ResourceUnitLimitExceeded")
    );
    // Another app has its own budget; the first one's returns with time.
    let ro = emu
        .secret_token("00000000-0000-4000-8000-00000000a002", "r3ad")
        .await;
    assert_eq!(emu.get(&phones("kim@contoso.com"), &ro).await.status, 200);
    let single = emu.get("/users/kim@contoso.com", &t).await;
    single.assert_error(429, "TooManyRequests");
    emu.clock.advance(Duration::from_secs(
        single.header("retry-after").unwrap().parse().unwrap(),
    ));
    assert_eq!(emu.get("/users/kim@contoso.com", &t).await.status, 200);
}
