// The object store step: spec.objectStore's bucket must answer HeadBucket with the credentials
// the gateways get. Reported as ObjectStoreReady, never blocking Ready (chat works without
// uploads); the operator never creates the bucket (its lifecycle, retention and access are the
// platform's).
import { HeadBucketCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { Reason } from "../api/conditions.ts";
import { errorMessage } from "./result.ts";
import type { StepOutcome } from "./status.ts";

export interface ObjectStoreAccess {
  readonly endpoint: string;
  readonly region: string;
  readonly bucket: string;
  readonly forcePathStyle: boolean;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** HeadBucket, as an outcome that says what is wrong and what to do. */
export type BucketCheck = (a: ObjectStoreAccess) => Promise<StepOutcome>;

export function bucketCheck(timeoutMs = 5_000): BucketCheck {
  return async (a) => {
    const client = new S3Client({
      endpoint: a.endpoint,
      region: a.region,
      forcePathStyle: a.forcePathStyle,
      credentials: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
      maxAttempts: 1,
      requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs },
    });
    const where = `bucket ${a.bucket} at ${a.endpoint}`;
    try {
      await client.send(new HeadBucketCommand({ Bucket: a.bucket }));
      return { ok: true, reason: Reason.BucketReady, message: `${where} answers` };
    } catch (err) {
      const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
      if (status === 404) {
        return {
          ok: false,
          reason: Reason.BucketMissing,
          message: `${where} does not exist: create it (uploads fail until then)`,
        };
      }
      return {
        ok: false,
        reason: Reason.ObjectStoreUnreachable,
        message:
          status === 403
            ? `${where}: access denied; check the credentials in spec.objectStore.credentialsSecretRef`
            : `cannot reach ${where}: ${errorMessage(err)}`,
      };
    } finally {
      client.destroy();
    }
  };
}
