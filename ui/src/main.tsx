import { StrictMode, Suspense, lazy } from "react";
import { createRoot } from "react-dom/client";
import { ConvexReactClient } from "convex/react";
import { readConfig } from "./config";
import { EmulatorRoot } from "./auth/EmulatorRoot";
import { App } from "./App";
import { LoadingScreen, NotConfiguredScreen } from "./components/Screens";
import "./styles.css";

const ClerkRoot = lazy(() => import("./auth/ClerkRoot"));

// The app is served by the Keel it talks to.
const client = new ConvexReactClient(window.location.origin);
const config = readConfig();

function Root() {
  switch (config.auth) {
    case "emulator":
      return (
        <EmulatorRoot client={client} frontendApi={config.frontendApi}>
          <App />
        </EmulatorRoot>
      );
    case "clerk":
      return (
        <Suspense fallback={<LoadingScreen />}>
          <ClerkRoot client={client} publishableKey={config.publishableKey}>
            <App />
          </ClerkRoot>
        </Suspense>
      );
    case "none":
      return <NotConfiguredScreen />;
  }
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <Root />
  </StrictMode>,
);
