// ObjectStore: where uploaded images and files live (docs/decisions/0021). The bytes never pass
// through the gateway: it hands out presigned URLs (an upload whose limits the store enforces, a
// download that expires) and asks the store what an object is before a message may name it.

/** What a presigned upload allows: one key, one media type, at most maxBytes, until it expires. */
export interface UploadPolicy {
  readonly key: string;
  readonly contentType: string;
  /** the largest body the store accepts (content-length-range 1..maxBytes) */
  readonly maxBytes: number;
  readonly expiresInSeconds: number;
}

/**
 * An HTML-form upload: POST multipart/form-data to `url` with every field of `fields`, then the
 * file as the last part, named `file`.
 */
export interface PresignedUpload {
  readonly url: string;
  readonly fields: Readonly<Record<string, string>>;
  readonly expiresAt: Date;
}

export interface PresignedDownload {
  readonly url: string;
  readonly expiresAt: Date;
}

/** What the store says about a stored object. */
export interface ObjectInfo {
  readonly size: number;
  readonly contentType: string;
}

export interface ObjectStore {
  /** the origin every URL points to (the web page's Content-Security-Policy allows it) */
  readonly origin: string;
  presignUpload(policy: UploadPolicy): Promise<PresignedUpload>;
  presignDownload(key: string, expiresInSeconds: number): Promise<PresignedDownload>;
  /** the object, or undefined when there is none under `key` */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** resolves when the bucket exists and answers; rejects saying why otherwise */
  checkBucket(): Promise<void>;
  close(): Promise<void>;
}
