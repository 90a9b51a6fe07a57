// A query that fails throws during render; this shows its message in words instead of a
// blank page (`NOT_FOUND` for another user's chat reads "Chat with ID … not found").
import { Component, type ReactNode } from "react";
import { errorText } from "../errors";

export class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  state = { error: null as unknown };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  render() {
    if (this.state.error !== null) {
      return (
        <section className="card">
          <p role="alert" className="error">
            {errorText(this.state.error)}
          </p>
          <a href="/">Back to your chats</a>
        </section>
      );
    }
    return this.props.children;
  }
}
