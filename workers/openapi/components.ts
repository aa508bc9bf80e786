import { z } from "zod";
import { Account, CreateAccountBody, CreatedAccount, UpdateAccountBody } from "../admin/schemas";
import {
	ApiToken,
	CreateApiTokenBody,
	CreatedApiToken,
	LoginBody,
	MeResponse,
	TokenLimits,
	TokenResponse,
} from "../auth/schemas";
import {
	AutocallCampaign,
	ContactFolder,
	ContactFolderBody,
	ContactImportBody,
	CreateCampaignBody,
	UpdateCampaignBody,
} from "../autocall/schemas";
import {
	Call,
	CallerId,
	CallerIdBody,
	CallStatus,
	ClickToCallBody,
	Extension,
	ExtensionBody,
	ExtensionPutBody,
	Queue,
	QueueBody,
} from "../pbx/schemas";
import { User } from "../pbx/users";
import { SendSmsBody, Sms } from "../sms/routes";
import {
	BulkDeleteBody,
	BulkImportBody,
	BulkImportReport,
	BulkPatchBody,
	BulkResult,
	Campaign,
	CampaignBody,
	CampaignPatch,
	CampaignStatus,
	Disposition,
	DispositionBody,
	Lead,
	LeadBody,
	LeadPatch,
	LeadStatus,
} from "../telesales/schemas";
import { Delivery, Endpoint, EndpointBody, EndpointPatch, EndpointWithSecret } from "../webhooks/schemas";

/**
 * The API's named types: each becomes `#/components/schemas/<name>` and every operation that
 * uses it refers to it by `$ref`, so a client generated from the document gets one type per
 * name instead of an anonymous shape per operation. Names live here, beside one another, so
 * two modules cannot both claim `Campaign`; a schema may also name itself with
 * `.meta({ id })`, which counts the same.
 */
const CATALOG: Record<string, z.ZodType> = {
	// admin
	Account,
	CreatedAccount,
	CreateAccountBody,
	UpdateAccountBody,
	// auth
	LoginBody,
	TokenResponse,
	MeResponse,
	TokenLimits,
	ApiToken,
	CreatedApiToken,
	CreateApiTokenBody,
	// pbx
	User,
	Extension,
	ExtensionBody,
	ExtensionPutBody,
	CallerId,
	CallerIdBody,
	Queue,
	QueueBody,
	Call,
	CallStatus,
	ClickToCallBody,
	// telesales
	TelesalesCampaign: Campaign,
	TelesalesCampaignBody: CampaignBody,
	TelesalesCampaignPatch: CampaignPatch,
	TelesalesCampaignStatus: CampaignStatus,
	Lead,
	LeadBody,
	LeadPatch,
	LeadStatus,
	LeadImportBody: BulkImportBody,
	LeadBulkPatchBody: BulkPatchBody,
	LeadBulkDeleteBody: BulkDeleteBody,
	LeadBulkResult: BulkResult,
	ImportReport: BulkImportReport,
	Disposition,
	DispositionBody,
	// autocall
	AutocallCampaign,
	CreateAutocallCampaignBody: CreateCampaignBody,
	UpdateAutocallCampaignBody: UpdateCampaignBody,
	ContactFolder,
	ContactFolderBody,
	ContactImportBody,
	// webhooks
	WebhookEndpoint: Endpoint,
	WebhookEndpointWithSecret: EndpointWithSecret,
	WebhookEndpointBody: EndpointBody,
	WebhookEndpointPatch: EndpointPatch,
	WebhookDelivery: Delivery,
	// integrations
	Sms,
	SendSmsBody,
};

/** Schema → component name: the catalog, and any schema named with `.meta({ id })`. */
export function componentNames(): Map<z.ZodType, string> {
	const names = new Map<z.ZodType, string>();
	for (const [id, schema] of z.globalRegistry._idmap) names.set(schema as z.ZodType, id);
	for (const [id, schema] of Object.entries(CATALOG)) {
		const other = names.get(schema);
		if (other && other !== id) throw new Error(`Schema named both ${other} and ${id}`);
		names.set(schema, id);
	}
	const ids = new Set<string>();
	for (const id of names.values()) {
		if (ids.has(id)) throw new Error(`Two schemas claim the component name ${id}`);
		ids.add(id);
	}
	return names;
}
