import { Link } from "wouter";

export function NotFoundPage() {
  return (
    <section className="card">
      <h1>Page not found</h1>
      <p className="muted">There is nothing at this address.</p>
      <Link href="/">Back to your chats</Link>
    </section>
  );
}
