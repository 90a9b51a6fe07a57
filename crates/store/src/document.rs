use keel_values::DocumentId;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value as Json};

use crate::engine::StoredDoc;
use crate::{Result, StoreError};

/// A document read from the store: its id, creation time and fields (Convex encoded JSON).
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    id: DocumentId,
    creation_time: f64,
    fields: Map<String, Json>,
}

impl Document {
    pub(crate) fn from_stored(stored: StoredDoc) -> Self {
        Document {
            id: stored.id,
            creation_time: stored.creation_time,
            fields: stored.body,
        }
    }

    pub fn id(&self) -> DocumentId {
        self.id
    }

    /// `_creationTime`: milliseconds since the Unix epoch.
    pub fn creation_time(&self) -> f64 {
        self.creation_time
    }

    pub fn get(&self, field: &str) -> Option<&Json> {
        self.fields.get(field)
    }

    pub fn get_str(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(Json::as_str)
    }

    pub fn fields(&self) -> &Map<String, Json> {
        &self.fields
    }

    /// The document as clients see it: its fields plus `_id` and `_creationTime`.
    pub fn to_json(&self) -> Json {
        let mut object = self.fields.clone();
        object.insert("_id".into(), Json::String(self.id.encode()));
        object.insert("_creationTime".into(), Json::from(self.creation_time));
        Json::Object(object)
    }

    /// Decodes the document (with `_id` and `_creationTime`) into a Rust type.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        serde_path_to_error::deserialize(self.to_json())
            .map_err(|e| StoreError::Engine(format!("document {} does not decode: {e}", self.id)))
    }
}

impl serde::Serialize for Document {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}
