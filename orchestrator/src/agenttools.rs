//! The database behind the built-in commerce tools: the orchestrator's store, read for one
//! account, as the `tools` crate's `CommerceStore`.

use crate::db::Db;
use crate::store::commerce;
use serde_json::Value;
use switchboard_tools::commerce::{CommerceStore, CustomerKey, StoreFuture};

pub struct DbStore(pub Db);

fn json<T: serde::Serialize>(v: T) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

impl CommerceStore for DbStore {
    fn customers<'a>(&'a self, account: i64, key: CustomerKey) -> StoreFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let found = match key {
                CustomerKey::Id(id) => match commerce::get_customer(&self.0, account, id).await {
                    Ok(c) => vec![c],
                    Err(crate::error::Error::NotFound) => vec![],
                    Err(e) => return Err(e.to_string()),
                },
                key => {
                    let mut q = commerce::CustomerQuery { limit: Some(5), ..Default::default() };
                    match key {
                        CustomerKey::Phone(p) => q.phone = Some(p),
                        CustomerKey::Email(e) => q.email = Some(e),
                        CustomerKey::Name(n) => q.q = Some(n),
                        CustomerKey::Id(_) => {}
                    }
                    commerce::list_customers(&self.0, account, &q).await.map_err(|e| e.to_string())?
                }
            };
            found.into_iter().map(json).collect()
        })
    }

    fn order<'a>(&'a self, account: i64, number: &'a str) -> StoreFuture<'a, Option<Value>> {
        Box::pin(async move {
            let q = commerce::OrderQuery {
                number: Some(number.to_string()),
                limit: Some(1),
                ..Default::default()
            };
            let found = commerce::list_orders(&self.0, account, &q).await.map_err(|e| e.to_string())?;
            found.into_iter().next().map(json).transpose()
        })
    }

    fn orders_of<'a>(&'a self, account: i64, customer: i64, limit: usize) -> StoreFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let q = commerce::OrderQuery {
                customer_id: Some(customer),
                limit: Some(limit as i64),
                ..Default::default()
            };
            let found = commerce::list_orders(&self.0, account, &q).await.map_err(|e| e.to_string())?;
            found.into_iter().map(json).collect()
        })
    }

    fn tickets_of<'a>(&'a self, account: i64, customer: i64) -> StoreFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let q = commerce::TicketQuery { customer_id: Some(customer), open: None };
            let found = commerce::list_tickets(&self.0, account, &q).await.map_err(|e| e.to_string())?;
            found.into_iter().map(json).collect()
        })
    }
}

/// Webhook HTTP for the tools crate: the host is resolved first, every address is checked
/// (unless the account allows private endpoints), and the connection goes to a checked address
/// only (no second lookup to rebind, no redirects).
pub struct HttpWebhooks;

impl switchboard_tools::webhook::HttpClient for HttpWebhooks {
    fn send<'a>(
        &'a self,
        request: &'a switchboard_tools::webhook::HttpRequest,
    ) -> switchboard_tools::webhook::HttpFuture<'a> {
        use switchboard_tools::webhook::{address_allowed, HttpError, HttpResponse};
        Box::pin(async move {
            let url =
                reqwest::Url::parse(&request.url).map_err(|e| HttpError::Blocked(format!("bad URL: {e}")))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(HttpError::Blocked(format!("{} URLs are not allowed", url.scheme())));
            }
            let host =
                url.host_str().ok_or_else(|| HttpError::Blocked("the URL has no host".into()))?.to_string();
            let port = url.port_or_known_default().unwrap_or(80);
            let lookup_host = host.trim_start_matches('[').trim_end_matches(']').to_string();
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((lookup_host.as_str(), port))
                .await
                .map_err(|e| HttpError::Transport(format!("cannot resolve {host}: {e}")))?
                .collect();
            let first =
                *addrs.first().ok_or_else(|| HttpError::Transport(format!("{host} has no address")))?;
            if !request.allow_private {
                if let Some(bad) = addrs.iter().find(|a| !address_allowed(a.ip())) {
                    return Err(HttpError::Blocked(format!(
                        "{host} is {} (loopback, private or otherwise not public); the account does not allow such endpoints",
                        bad.ip()
                    )));
                }
            }
            let client = crate::tls::http_client()
                .resolve(&lookup_host, first)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| HttpError::Transport(e.to_string()))?;
            let method = reqwest::Method::from_bytes(request.method.as_bytes())
                .map_err(|_| HttpError::Blocked(format!("bad method {}", request.method)))?;
            let mut r = client.request(method, url);
            for (k, v) in &request.headers {
                r = r.header(k, v);
            }
            if let Some(body) = &request.body {
                r = r.json(body);
            }
            let response = r.send().await.map_err(|e| HttpError::Transport(e.without_url().to_string()))?;
            let status = response.status().as_u16();
            let body = response.bytes().await.map_err(|e| HttpError::Transport(e.to_string()))?.to_vec();
            Ok(HttpResponse { status, body })
        })
    }
}

/// A configured webhook tool, ready for an agent.
pub fn webhook_tool(
    def: &crate::model::ToolDefinition,
    allow_private: bool,
) -> Option<switchboard_tools::webhook::Webhook> {
    let crate::model::ToolImplementation::Webhook {
        url,
        method,
        headers,
        secret_headers,
        timeout_ms,
        retries,
        result_pointer,
    } = &def.implementation
    else {
        return None;
    };
    let mut all: Vec<(String, String)> = headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    all.extend(secret_headers.iter().filter_map(|(k, v)| Some((k.clone(), v.clone()?))));
    Some(switchboard_tools::webhook::Webhook {
        spec: switchboard_tools::ToolSpec {
            name: def.name.clone(),
            description: def.description.clone(),
            parameters: def.parameters.clone(),
            timeout: std::time::Duration::from_millis(*timeout_ms as u64),
            cancel_on_interruption: def.cancel_on_interruption,
        },
        url: url.clone(),
        method: serde_json::to_value(method)
            .ok()
            .and_then(|m| m.as_str().map(str::to_uppercase))
            .unwrap_or_else(|| "POST".into()),
        headers: all,
        retries: *retries,
        result_pointer: result_pointer.clone(),
        allow_private,
        client: std::sync::Arc::new(HttpWebhooks),
    })
}
