//! File uploads as `multipart/form-data`: the form a generated client sends
//! for an operation that takes a file. The whole body has already been read
//! within its route's limit and deadline; this only takes it apart.

use crate::error::ApiError;
use actix_web::HttpRequest;
use actix_web::web::Bytes;
use std::collections::HashMap;

/// Whether the request says its body is `multipart/form-data`.
pub fn is_multipart(req: &HttpRequest) -> bool {
    is_media(req, "multipart/form-data")
}

/// Whether the request says its body is of the media type `media`.
pub fn is_media(req: &HttpRequest, media: &str) -> bool {
    content_type(req).is_some_and(|v| v.to_ascii_lowercase().starts_with(media))
}

/// The CSV file of a request: the `file` part of a `multipart/form-data`
/// body (422 `required` on `file` without it), or a `text/csv` body as it
/// is (415 for any other body).
pub async fn csv_file(req: &HttpRequest, body: Bytes) -> Result<Bytes, ApiError> {
    if is_multipart(req) {
        read(req, body).await?.required_file()
    } else if is_media(req, "text/csv") {
        Ok(body)
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

fn content_type(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
}

/// An upload taken apart: the file part and the text fields beside it.
#[derive(Debug, Default)]
pub struct Upload {
    /// The contents of the part named `file`.
    pub file: Option<Bytes>,
    /// Every other part, as text.
    pub fields: HashMap<String, String>,
}

impl Upload {
    /// The file part; 422 `required` on `file` without one.
    pub fn required_file(self) -> Result<Bytes, ApiError> {
        self.file.ok_or_else(|| {
            ApiError::invalid(
                whereabouts_core::IssueCode::Required,
                "file",
                serde_json::json!({}),
            )
        })
    }

    /// A text field, trimmed; `None` when absent or blank.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

/// Takes a `multipart/form-data` body apart. A body that is not well formed
/// answers 400 `malformed_request`; one without a `file` part is the caller's
/// to refuse.
pub async fn read(req: &HttpRequest, body: Bytes) -> Result<Upload, ApiError> {
    let boundary = content_type(req)
        .and_then(|v| multer::parse_boundary(v).ok())
        .ok_or_else(|| ApiError::Malformed("the multipart body has no boundary".into()))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut parts = multer::Multipart::new(stream, boundary);
    let mut upload = Upload::default();
    let malformed = |error: multer::Error| ApiError::Malformed(format!("multipart body: {error}"));
    while let Some(part) = parts.next_field().await.map_err(malformed)? {
        let name = part.name().unwrap_or_default().to_owned();
        let bytes = part.bytes().await.map_err(malformed)?;
        if name == "file" {
            upload.file = Some(bytes);
        } else {
            let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
                ApiError::Malformed(format!("the multipart field {name} is not UTF-8"))
            })?;
            upload.fields.insert(name, text);
        }
    }
    Ok(upload)
}
