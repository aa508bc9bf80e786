import { useEffect, useState } from "preact/hooks";
import { currentToken, onTokenChange } from "./auth";
import { Link } from "./components/Link";
import { StreamBadge } from "./components/StreamBadge";
import { ErrorNotice } from "./errors";
import { startEvents, stopEvents } from "./events";
import { AccountsPage } from "./pages/Accounts";
import { CallsPage } from "./pages/Calls";
import { CampaignPage } from "./pages/Campaign";
import { CampaignsPage } from "./pages/Campaigns";
import { LimitsPage } from "./pages/Limits";
import { NewCampaignPage } from "./pages/NewCampaign";
import { SignInPage } from "./pages/SignIn";
import { WebhooksPage } from "./pages/Webhooks";
import { match, navigate, useRoute } from "./router";
import { signOut, whoAmI } from "./session";
import type { Me } from "./types";

const NAV = [
	{ to: "/campaigns", label: "Campaigns" },
	{ to: "/calls", label: "Calls" },
	{ to: "/limits", label: "Limits" },
	{ to: "/webhooks", label: "Webhooks" },
];

/** Signed in: who it is; the stream runs for as long as a token is held. */
function useSession(): { token: string | null; me: Me | undefined; error: unknown } {
	const [token, setToken] = useState(currentToken());
	const [me, setMe] = useState<Me>();
	const [error, setError] = useState<unknown>();
	useEffect(() => onTokenChange(() => setToken(currentToken())), []);
	useEffect(() => {
		setMe(undefined);
		setError(undefined);
		if (!token) {
			stopEvents();
			return;
		}
		let live = true;
		whoAmI().then(
			(who) => {
				if (!live) return;
				setMe(who);
				startEvents();
			},
			(failure: unknown) => live && setError(failure),
		);
		return () => {
			live = false;
		};
	}, [token]);
	return { token, me, error };
}

export function App() {
	const { route } = useRoute();
	const { token, me, error } = useSession();
	const admin = me?.user.role === "platform_admin";

	useEffect(() => {
		// The landing page: an admin's platform account runs no campaigns, so it starts at its customers.
		if (me && route === "/") navigate(admin ? "/accounts" : "/campaigns", { replace: true });
	}, [me, route, admin]);

	if (!token) return <SignInPage />;

	const nav = admin ? [{ to: "/accounts", label: "Accounts" }, ...NAV] : NAV;
	const section = `/${route.split("/")[1] ?? ""}`;
	return (
		<>
			<a class="skip" href="#main">
				Skip to content
			</a>
			<header class="top">
				<span class="brand">callgate console</span>
				<nav aria-label="Main">
					<ul>
						{nav.map((item) => (
							<li key={item.to}>
								<Link to={item.to} current={section === item.to}>
									{item.label}
								</Link>
							</li>
						))}
					</ul>
				</nav>
				<div class="who">
					<StreamBadge />
					{me && (
						<span>
							{me.user.username} <span class="muted">({me.user.role.replace("_", " ")})</span>
						</span>
					)}
					<button
						type="button"
						class="secondary"
						onClick={() => {
							// The next sign-in may be another account: it starts at its own landing page.
							void signOut(me).catch(() => console.warn("The session could not be revoked now; it expires on its own."));
							navigate("/", { replace: true });
						}}
					>
						Sign out
					</button>
				</div>
			</header>
			<main id="main" tabIndex={-1}>
				<ErrorNotice error={error} />
				{me && <Page route={route} me={me} />}
			</main>
		</>
	);
}

function Page({ route, me }: { route: string; me: Me }) {
	if (route === "/accounts") return <AccountsPage me={me} />;
	if (route === "/campaigns" || route === "/") return <CampaignsPage />;
	if (route === "/campaigns/new") return <NewCampaignPage />;
	const campaign = match("/campaigns/:id", route);
	if (campaign?.id) return <CampaignPage key={campaign.id} id={campaign.id} />;
	if (route === "/calls") return <CallsPage />;
	if (route === "/limits") return <LimitsPage />;
	if (route === "/webhooks") return <WebhooksPage />;
	const endpoint = match("/webhooks/:id", route);
	if (endpoint?.id) return <WebhooksPage selected={endpoint.id} />;
	return (
		<section>
			<h1>Not found</h1>
			<p>
				The console has no page at <code>{route}</code>. <Link to="/campaigns">Go to campaigns</Link>.
			</p>
		</section>
	);
}
