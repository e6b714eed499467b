/** The Canopy console: a single-page app under /console, every page a deep link. */
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Link, Navigate, Route, Routes } from "react-router";
import { Layout, OrgLayout } from "./routes/Layout";
import { Organizations } from "./routes/Organizations";
import { Jobs } from "./routes/Jobs";
import { Job } from "./routes/Job";
import { Workflows } from "./routes/Workflows";
import { Workflow } from "./routes/Workflow";
import { Triggers } from "./routes/Triggers";
import { AuditLog } from "./routes/AuditLog";
import { Schedules } from "./routes/Schedules";
import { useTitle } from "./api/hooks";
import "./styles.css";

function App() {
  return (
    <BrowserRouter basename="/console">
      <Routes>
        <Route element={<Layout />}>
          <Route index element={<Organizations />} />
          <Route path="organizations" element={<Organizations />} />
          <Route path="organizations/:org" element={<OrgLayout />}>
            <Route index element={<Navigate to="jobs" replace />} />
            <Route path="jobs" element={<Jobs />} />
            <Route path="jobs/:jobId" element={<Job />} />
            <Route path="workflows" element={<Workflows />} />
            <Route path="workflows/:workflowId" element={<Workflow />} />
            <Route path="triggers" element={<Triggers />} />
            <Route path="audit-log" element={<AuditLog />} />
            <Route path="schedules" element={<Schedules />} />
          </Route>
          <Route path="*" element={<NotFound />} />
        </Route>
      </Routes>
    </BrowserRouter>
  );
}

function NotFound() {
  useTitle("Not found");
  return (
    <section>
      <h1>Not found</h1>
      <p className="state empty">The console has no page at this address.</p>
      <p>
        <Link to="/">Back to the start</Link>
      </p>
    </section>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
