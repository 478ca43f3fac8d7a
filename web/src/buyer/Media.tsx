// A dataset's own media: files the buyer uploads (kept encrypted with the dataset's key), which
// items refer to as "media:<name>", and the log of who opened which file of which item, when.
// Uploads go one file at a time as the raw body of PUT /v1/datasets/{id}/media/{name}, through
// XMLHttpRequest for the progress fetch does not report.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";

import { api, call, type Schemas } from "../api/client";
import { ApiError } from "../api/errors";
import { session } from "../api/session";
import { shortAddress } from "../ui/format";
import { ErrorNotice } from "../ui/ErrorNotice";

type Stored = Schemas["MediaObjectPublic"];
type Opening = Schemas["MediaAccessPublic"];

const PAGE = 50;

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

function put(datasetId: number, file: File, onProgress: (share: number) => void): Promise<Stored> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    const name = file.name.split("/").map(encodeURIComponent).join("/");
    request.open("PUT", `/v1/datasets/${datasetId}/media/${name}`);
    request.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    const current = session.get();
    if (current !== null) request.setRequestHeader("Authorization", `Bearer ${current.token}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    request.onerror = () => reject(new ApiError(0, "unreachable", "The label-ledger service did not answer the upload."));
    request.onload = () => {
      let answer: unknown = null;
      try {
        answer = JSON.parse(request.responseText) as unknown;
      } catch {
        answer = null;
      }
      if (request.status >= 200 && request.status < 300) {
        resolve(answer as Stored);
        return;
      }
      if (request.status === 401) session.expire();
      const error = (answer as { error?: { code?: string; message?: string } } | null)?.error;
      reject(new ApiError(request.status, error?.code ?? "http_error", error?.message ?? `The service answered ${request.status}.`));
    };
    request.send(file);
  });
}

function useMedia(datasetId: number) {
  return useQuery({
    queryKey: ["dataset-media", datasetId],
    queryFn: () => call(api.GET("/v1/datasets/{dataset_id}/media", { params: { path: { dataset_id: datasetId } } })),
  });
}

export function MediaFiles({ datasetId }: { datasetId: number }) {
  const inputId = useId();
  const queryClient = useQueryClient();
  const media = useMedia(datasetId);
  const [progress, setProgress] = useState<string | null>(null);
  const [failure, setFailure] = useState<{ file: string; error: unknown } | null>(null);

  async function upload(files: FileList | null) {
    if (files === null || files.length === 0) return;
    setFailure(null);
    const all = Array.from(files);
    for (const [index, file] of all.entries()) {
      const which = `${file.name} (${index + 1} of ${all.length})`;
      setProgress(`Uploading ${which}…`);
      try {
        await put(datasetId, file, (share) => setProgress(`Uploading ${which}: ${Math.round(share * 100)}%`));
      } catch (error) {
        setFailure({ file: file.name, error });
        break;
      }
    }
    setProgress(null);
    await queryClient.invalidateQueries({ queryKey: ["dataset-media", datasetId] });
  }

  return (
    <>
      <p>
        Pictures, sound, video or point clouds your items show. Each is stored encrypted with this dataset's own key;
        an annotator gets a link to a file only while they hold an item that refers to it, for a few minutes, and
        every opening is logged below. In an item's data, refer to a file as <code>"media:&lt;name&gt;"</code>.
      </p>
      <p>
        <label htmlFor={inputId}>Media files to upload</label>{" "}
        <input id={inputId} type="file" multiple disabled={progress !== null}
          onChange={(event) => {
            void upload(event.currentTarget.files);
            event.currentTarget.value = "";
          }} />
      </p>
      <p role="status" aria-live="polite" className="muted">{progress ?? ""}</p>
      {failure !== null && (
        <div>
          <p className="buyer-field-error">{failure.file} was not stored; the files after it were not sent.</p>
          <ErrorNotice error={failure.error} />
        </div>
      )}
      {media.error && <ErrorNotice error={media.error} />}
      {media.data &&
        (media.data.length === 0 ? (
          <p>No media uploaded yet.</p>
        ) : (
          <div className="table-scroll" tabIndex={0} role="region" aria-label="Uploaded media, scrollable">
          <table aria-label="Uploaded media">
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Type</th>
                <th scope="col">Size</th>
                <th scope="col">Refer to it as</th>
              </tr>
            </thead>
            <tbody>
              {media.data.map((file) => (
                <tr key={file.name}>
                  <td>{file.name}</td>
                  <td>{file.content_type}</td>
                  <td>{sizeText(file.size)}</td>
                  <td><code>{JSON.stringify(file.reference)}</code></td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        ))}
    </>
  );
}

const ROLE_WORDS: Readonly<Record<string, string>> = {
  annotator: "annotator holding the item",
  reviewer: "reviewer",
  buyer: "you (the buyer)",
  operator: "operator",
};

export function MediaAccess({ datasetId }: { datasetId: number }) {
  const [pages, setPages] = useState(1);
  const log = useQuery({
    queryKey: ["dataset-media-access", datasetId, pages],
    queryFn: () =>
      call(api.GET("/v1/datasets/{dataset_id}/media-access", {
        params: { path: { dataset_id: datasetId }, query: { limit: PAGE * pages } },
      })),
    refetchInterval: 30_000,
  });
  const rows: Opening[] = log.data ?? [];
  return (
    <>
      <p>Every time anyone opened one of this dataset's files: who, why they were let in, which item and file, when. Newest first.</p>
      {log.error && <ErrorNotice error={log.error} />}
      {log.data &&
        (rows.length === 0 ? (
          <p>Nobody has opened this dataset's media yet.</p>
        ) : (
          <div className="table-scroll" tabIndex={0} role="region" aria-label="Media openings, scrollable">
          <table aria-label="Media openings">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Wallet</th>
                <th scope="col">As</th>
                <th scope="col">Item</th>
                <th scope="col">File</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.id}>
                  <td>{new Date(row.at).toLocaleString()}</td>
                  <td><code className="hash" title={row.wallet}>{shortAddress(row.wallet)}</code></td>
                  <td>{ROLE_WORDS[row.role] ?? row.role}</td>
                  <td>{row.external_id}</td>
                  <td>{row.object_name}</td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
        ))}
      {rows.length === PAGE * pages && (
        <p>
          <button type="button" onClick={() => setPages((n) => n + 1)}>Show older openings</button>
        </p>
      )}
    </>
  );
}
