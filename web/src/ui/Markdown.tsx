// A buyer's Markdown as text-safe HTML: react-markdown builds React elements and never passes raw
// HTML through (it shows as text), and link URLs with unsafe schemes are dropped.
import ReactMarkdown from "react-markdown";

export default function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown>{text}</ReactMarkdown>
    </div>
  );
}
