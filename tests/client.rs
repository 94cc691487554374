//! A real NATS client (async-nats) against natsd: pub/sub, wildcards, queue groups,
//! request/reply, headers, no responders, flush and drain.

mod common;

use std::time::Duration;

use async_nats::{Client, HeaderMap};
use futures_util::{FutureExt, StreamExt};
use natsd::{Options, Server, ServerHandle, RANDOM_PORT};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

fn start_server() -> ServerHandle {
    let opts = Options {
        host: "127.0.0.1".into(),
        port: RANDOM_PORT,
        ..Options::default()
    };
    Server::start(opts).expect("server starts")
}

async fn connect(server: &ServerHandle) -> Client {
    let url = format!("nats://{}", server.client_addr());
    async_nats::connect(url).await.expect("client connects")
}

async fn next(sub: &mut async_nats::Subscriber) -> async_nats::Message {
    timeout(WAIT, sub.next())
        .await
        .expect("message arrives in time")
        .expect("subscription open")
}

/// The messages `sub` has already been handed, without waiting for more. (Unconstrained:
/// tokio's cooperative budget would otherwise report a full channel as pending after 128.)
fn already_received(sub: &mut async_nats::Subscriber) -> Vec<async_nats::Message> {
    std::iter::from_fn(|| {
        tokio::task::unconstrained(sub.next())
            .now_or_never()
            .flatten()
    })
    .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn publish_subscribe_and_wildcards() {
    let server = start_server();
    let client = connect(&server).await;
    let mut exact = client.subscribe("orders.new").await.unwrap();
    let mut star = client.subscribe("orders.*").await.unwrap();
    let mut tail = client.subscribe("orders.>").await.unwrap();
    common::settle(&client).await;

    client.publish("orders.new", "one".into()).await.unwrap();
    client.publish("orders.eu.new", "two".into()).await.unwrap();
    client.flush().await.unwrap();

    assert_eq!(next(&mut exact).await.payload, "one");
    assert_eq!(next(&mut star).await.payload, "one");
    let got: Vec<_> = [next(&mut tail).await, next(&mut tail).await]
        .into_iter()
        .map(|m| m.subject.to_string())
        .collect();
    assert_eq!(got, ["orders.new", "orders.eu.new"]);
    // orders.* must not have matched the three-token subject. The server sends this
    // connection's messages in order and the client hands each to its subscription as it
    // reads it: once a message published later has come back (`settle`), a match would be
    // waiting in `star` already.
    common::settle(&client).await;
    let extra: Vec<_> = already_received(&mut star)
        .into_iter()
        .map(|m| m.subject.to_string())
        .collect();
    assert!(extra.is_empty(), "orders.* also got {extra:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn queue_group_delivers_each_message_once() {
    let server = start_server();
    let client = connect(&server).await;
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(
            client
                .queue_subscribe("work", "workers".into())
                .await
                .unwrap(),
        );
    }
    common::settle(&client).await;
    for i in 0..300 {
        client.publish("work", i.to_string().into()).await.unwrap();
    }
    client.flush().await.unwrap();
    // Every delivery to this connection precedes the messages `settle` publishes after the
    // flush, so when `settle` returns, every member has been handed all it will get.
    common::settle(&client).await;
    let mut seen = Vec::new();
    for member in &mut members {
        for msg in already_received(member) {
            seen.push(
                String::from_utf8(msg.payload.to_vec())
                    .unwrap()
                    .parse::<u32>()
                    .unwrap(),
            );
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..300).collect::<Vec<_>>());
}

#[tokio::test(flavor = "current_thread")]
async fn request_reply_and_headers() {
    let server = start_server();
    let responder = connect(&server).await;
    let requester = connect(&server).await;
    let mut service = responder.subscribe("svc.echo").await.unwrap();
    common::settle(&responder).await;
    let task = tokio::spawn(async move {
        for _ in 0..3 {
            let msg = next(&mut service).await;
            let mut headers = HeaderMap::new();
            headers.insert(
                "X-Seen",
                msg.headers
                    .as_ref()
                    .map_or("none", |h| h.get("X-Trace").map_or("none", |v| v.as_str())),
            );
            let reply = msg.reply.expect("request has a reply subject");
            responder
                .publish_with_headers(reply, headers, msg.payload)
                .await
                .unwrap();
        }
        responder.flush().await.unwrap();
    });
    for i in 0..3 {
        let mut headers = HeaderMap::new();
        headers.insert("X-Trace", format!("t{i}").as_str());
        let response = timeout(
            WAIT,
            requester.request_with_headers("svc.echo", headers, format!("ping {i}").into()),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(response.payload, format!("ping {i}"));
        let seen = response.headers.unwrap();
        assert_eq!(seen.get("X-Seen").unwrap().as_str(), format!("t{i}"));
    }
    task.await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn request_without_responders_fails_fast() {
    let server = start_server();
    let client = connect(&server).await;
    let started = std::time::Instant::now();
    let err = client
        .request("nobody.home", "hello".into())
        .await
        .expect_err("no responders");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test(flavor = "current_thread")]
async fn drain_delivers_what_was_published() {
    let server = start_server();
    let publisher = connect(&server).await;
    let subscriber = connect(&server).await;
    let mut sub = subscriber.subscribe("drain.me").await.unwrap();
    let mut fence = subscriber.subscribe("drain.fence").await.unwrap();
    common::settle(&subscriber).await;
    for i in 0..100 {
        publisher
            .publish("drain.me", i.to_string().into())
            .await
            .unwrap();
    }
    publisher.publish("drain.fence", "".into()).await.unwrap();
    publisher.flush().await.unwrap();
    // The server delivers one publisher's messages in order, and the client hands each to its
    // subscription as it reads it: once the fence has arrived, all 100 are waiting in `sub`.
    // (async-nats' drain ends the subscription once its UNSUB is written, without waiting
    // for messages still on the way; and its `flush` only writes, it does not PING.)
    next(&mut fence).await;
    sub.drain().await.unwrap();
    let mut count = 0;
    while let Ok(Some(_)) = timeout(WAIT, sub.next()).await {
        count += 1;
    }
    assert_eq!(count, 100);
}
