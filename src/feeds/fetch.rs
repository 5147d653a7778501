//! Fetching a feed politely: conditional GET, gzip/brotli, a User-Agent, connect and
//! total timeouts, a streamed body cap, a redirect limit and the SSRF guard. Expected
//! conditions (304, 429) are outcomes; only failures are errors.

use super::guard;
use crate::config::FeedSource;
use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

#[derive(Debug, Clone)]
pub struct FetcherSettings {
    pub user_agent: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    pub allow_private_addresses: bool,
}

impl FetcherSettings {
    pub fn from_config(settings: &crate::config::Settings) -> Self {
        Self {
            user_agent: settings.user_agent.clone(),
            connect_timeout: settings.connect_timeout,
            request_timeout: settings.request_timeout,
            max_body_bytes: settings.max_body_bytes,
            max_redirects: settings.max_redirects,
            allow_private_addresses: settings.allow_private_addresses,
        }
    }
}

/// How long the server asked us to wait before polling again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheHints {
    pub max_age: Option<Duration>,
    pub expires: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub enum FetchOutcome {
    /// 304: the validators matched, no body was sent.
    NotModified { cache: CacheHints },
    Body {
        status: u16,
        bytes: Vec<u8>,
        content_type: Option<String>,
        etag: Option<String>,
        last_modified: Option<String>,
        final_url: Option<Url>,
        cache: CacheHints,
    },
    /// 429 or 503: the server asked us to slow down.
    RateLimited {
        status: u16,
        retry_after: Option<Duration>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("the body is larger than the {limit}-byte cap")]
    TooLarge { limit: u64 },
    #[error("HTTP status {0}")]
    Status(u16),
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    #[error("refused: {0}")]
    Blocked(String),
    #[error("network error: {0}")]
    Network(String),
    #[error("cannot read {path}: {detail}")]
    File { path: String, detail: String },
}

/// One HTTP client shared by every feed, so connections are reused.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: Arc<FetcherSettings>,
}

impl Fetcher {
    pub fn new(settings: FetcherSettings) -> Result<Self, FetchError> {
        let max_redirects = settings.max_redirects;
        let allow_private = settings.allow_private_addresses;
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                return attempt.error(FetchError::TooManyRedirects(max_redirects));
            }
            if let Err(reason) = guard::check_url(attempt.url(), allow_private) {
                return attempt.error(FetchError::Blocked(reason));
            }
            attempt.follow()
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .redirect(redirect)
            .gzip(true)
            .brotli(true);
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(guard::GuardedResolver));
        } else {
            // Tests and self-hosted setups fetch from loopback: a proxy from the
            // environment must not intercept those requests.
            builder = builder.no_proxy();
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Network(e.to_string()))?;
        Ok(Self {
            client,
            settings: Arc::new(settings),
        })
    }

    pub fn settings(&self) -> &FetcherSettings {
        &self.settings
    }

    /// Fetches `source`, sending the validators of the previous answer if any.
    pub async fn fetch(
        &self,
        source: &FeedSource,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<FetchOutcome, FetchError> {
        match source {
            FeedSource::File(path) => self.read_file(path).await,
            FeedSource::Http(url) => self.fetch_http(url, etag, last_modified).await,
        }
    }

    async fn read_file(&self, path: &std::path::Path) -> Result<FetchOutcome, FetchError> {
        let file_error = |e: std::io::Error| FetchError::File {
            path: path.display().to_string(),
            detail: e.to_string(),
        };
        let metadata = tokio::fs::metadata(path).await.map_err(file_error)?;
        if metadata.len() > self.settings.max_body_bytes {
            return Err(FetchError::TooLarge {
                limit: self.settings.max_body_bytes,
            });
        }
        let bytes = tokio::fs::read(path).await.map_err(file_error)?;
        Ok(FetchOutcome::Body {
            status: 200,
            bytes,
            content_type: None,
            etag: None,
            last_modified: None,
            final_url: None,
            cache: CacheHints::default(),
        })
    }

    async fn fetch_http(
        &self,
        url: &Url,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<FetchOutcome, FetchError> {
        guard::check_url(url, self.settings.allow_private_addresses)
            .map_err(FetchError::Blocked)?;
        let mut request = self.client.get(url.clone());
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(last_modified) = last_modified {
            request = request.header(header::IF_MODIFIED_SINCE, last_modified);
        }
        let response = request.send().await.map_err(|e| self.map_error(e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let cache = cache_hints(&headers, crate::clock::now());
        match status {
            304 => return Ok(FetchOutcome::NotModified { cache }),
            429 | 503 => {
                let retry_after = retry_after(&headers, crate::clock::now());
                return Ok(FetchOutcome::RateLimited {
                    status,
                    retry_after,
                });
            }
            200..=299 => {}
            _ => return Err(FetchError::Status(status)),
        }
        let final_url = Some(response.url().clone());
        let bytes = self.read_capped(response).await?;
        Ok(FetchOutcome::Body {
            status,
            bytes,
            content_type: header_string(&headers, header::CONTENT_TYPE),
            etag: header_string(&headers, header::ETAG),
            last_modified: header_string(&headers, header::LAST_MODIFIED),
            final_url,
            cache,
        })
    }

    /// Reads the body chunk by chunk and stops at the cap, so a huge or endless body
    /// never sits in memory whole.
    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Vec<u8>, FetchError> {
        let limit = self.settings.max_body_bytes;
        if response
            .content_length()
            .is_some_and(|length| length > limit)
        {
            return Err(FetchError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.map_error(e))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn map_error(&self, error: reqwest::Error) -> FetchError {
        if error.is_timeout() {
            return FetchError::Timeout(self.settings.request_timeout);
        }
        if error.is_redirect() {
            // Our policy's own error says which limit or guard refused the redirect.
            if let Some(inner) = std::error::Error::source(&error)
                .and_then(|source| source.downcast_ref::<FetchError>())
            {
                return match inner {
                    FetchError::TooManyRedirects(n) => FetchError::TooManyRedirects(*n),
                    other => FetchError::Blocked(other.to_string()),
                };
            }
            return FetchError::TooManyRedirects(self.settings.max_redirects);
        }
        let mut message = error.to_string();
        let mut source = std::error::Error::source(&error);
        while let Some(inner) = source {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            source = inner.source();
        }
        FetchError::Network(message)
    }
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    (at - now).to_std().ok()
}

/// `Cache-Control: max-age` and `Expires`, which bound how soon we poll again.
pub fn cache_hints(headers: &HeaderMap, now: DateTime<Utc>) -> CacheHints {
    let max_age = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',').find_map(|part| {
                let part = part.trim();
                part.strip_prefix("max-age=")
                    .and_then(|s| s.trim_matches('"').parse::<u64>().ok())
            })
        })
        .map(Duration::from_secs);
    let expires = headers
        .get(header::EXPIRES)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| DateTime::parse_from_rfc2822(v.trim()).ok())
        .map(|d| d.with_timezone(&Utc))
        .filter(|d| *d > now);
    CacheHints { max_age, expires }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(120)));
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Sun, 29 Nov 2026 10:05:00 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(300)));
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn cache_hints_read_max_age_and_future_expires() {
        let now = DateTime::parse_from_rfc3339("2026-11-29T10:00:00Z")
            .expect("date")
            .with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=600"),
        );
        headers.insert(
            header::EXPIRES,
            HeaderValue::from_static("Sun, 29 Nov 2026 09:00:00 GMT"),
        );
        let hints = cache_hints(&headers, now);
        assert_eq!(hints.max_age, Some(Duration::from_secs(600)));
        assert_eq!(hints.expires, None, "an Expires in the past is no hint");
    }
}
