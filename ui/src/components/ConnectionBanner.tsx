// A banner while the live connection is down (after it first came up), so a person knows
// why nothing updates. Short blips (under a second) are not shown.
import { useEffect, useState } from "react";
import { useConvex } from "convex/react";

const GRACE_MS = 1000;

export function ConnectionBanner() {
  const client = useConvex();
  const [down, setDown] = useState(false);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const update = () => {
      const state = client.connectionState();
      const isDown = state.hasEverConnected && !state.isWebSocketConnected;
      clearTimeout(timer);
      if (isDown) timer = setTimeout(() => setDown(true), GRACE_MS);
      else setDown(false);
    };
    update();
    const unsubscribe = client.subscribeToConnectionState(update);
    return () => {
      clearTimeout(timer);
      unsubscribe();
    };
  }, [client]);
  if (!down) return null;
  return (
    <div className="banner" role="status">
      Connection lost. Reconnecting… Changes you make are sent once it is back.
    </div>
  );
}
