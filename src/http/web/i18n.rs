//! The pages' words in Chinese (the default) and English, keyed by message id.
//!
//! Templates call `t("id")`; the language comes from the page's `lang` variable, which
//! [`super::Web`] takes from `?lang=` or the `lang` cookie. An id missing from the table is shown
//! as itself, so a forgotten entry is visible rather than fatal.

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "zh" | "zh-CN" => Some(Self::Zh),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
        }
    }

    /// The value of `<html lang>`.
    pub fn html(self) -> &'static str {
        match self {
            Self::Zh => "zh-CN",
            Self::En => "en",
        }
    }
}

/// (id, Chinese, English).
const TABLE: &[(&str, &str, &str)] = &[
    ("app", "讲堂", "Lectern"),
    ("tagline", "课件资源中心", "Educational media library"),
    ("switch", "English", "中文"),
    ("nav.home", "首页", "Home"),
    ("nav.lessons", "课程", "Lessons"),
    ("nav.review", "审核", "Review"),
    ("nav.orgs", "组织", "Organisations"),
    ("nav.users", "账号", "Accounts"),
    ("nav.platforms", "下级平台", "Platforms"),
    ("nav.jobs", "后台任务", "Jobs"),
    ("nav.synonyms", "同义词", "Synonyms"),
    ("synonyms.title", "检索同义词", "Search synonyms"),
    (
        "synonyms.help",
        "每行一组意思相同的词，用逗号或顿号隔开。检索其中任何一个词，也会找到同组的其他词（排在原词之后）。保存后本节点立即生效，其他节点几秒内生效。",
        "One group of words that mean the same per line, separated by commas. A search for any of them also finds the others of its group (ranked after the word itself). In force on this node at once, on the others within seconds.",
    ),
    ("synonyms.limits", "上限", "Limits"),
    ("synonyms.groups_n", "当前共 {n} 组。", "{n} groups now."),
    ("synonyms.saved", "已保存。", "Saved."),
    ("jobs.title", "后台任务", "Background jobs"),
    ("jobs.kind", "类型", "Kind"),
    ("jobs.state", "状态", "State"),
    ("jobs.any", "全部", "any"),
    ("jobs.filter", "筛选", "Filter"),
    ("jobs.attempts", "尝试次数", "Attempts"),
    ("jobs.last_error", "最近错误", "Last error"),
    ("jobs.updated", "更新时间", "Updated"),
    ("jobs.next_run", "下次运行", "Next run"),
    ("jobs.retry", "重试", "Retry"),
    ("jobs.retry_all", "重试全部失败任务", "Retry every dead job"),
    ("jobs.dead_count", "个失败任务", "dead job(s)"),
    ("jobs.none", "没有符合条件的任务。", "No jobs match."),
    ("jobs.state.pending", "等待中", "pending"),
    ("jobs.state.running", "运行中", "running"),
    ("jobs.state.done", "已完成", "done"),
    ("jobs.state.dead", "已失败", "dead"),
    ("jobs.kind.webhook", "Webhook 推送", "webhook delivery"),
    ("jobs.kind.extract_text", "文本提取", "text extraction"),
    ("jobs.kind.schedules", "定时发布与撤回", "scheduled steps"),
    ("jobs.kind.maintenance", "例行清理", "housekeeping"),
    ("jobs.kind.probe", "探测任务", "probe"),
    (
        "jobs.kind.media_reconcile",
        "查找待处理媒体",
        "media look-up",
    ),
    ("jobs.kind.media_probe", "媒体分析", "media probe"),
    ("jobs.kind.media_audio", "音频转码", "audio rendition"),
    ("jobs.kind.media_poster", "封面截图", "poster"),
    (
        "jobs.kind.media_transcript",
        "机器转写",
        "machine transcript",
    ),
    ("jobs.kind.media_document", "文档预览", "document preview"),
    (
        "jobs.kind.media_sprite",
        "进度条缩略图",
        "scrubbing thumbnails",
    ),
    ("jobs.progress", "进度", "Progress"),
    ("jobs.left_minutes", "剩余约 N 分钟", "about N min left"),
    ("jobs.left_seconds", "剩余约 N 秒", "about N s left"),
    ("jobs.output", "程序输出", "Tool output"),
    ("jobs.reprocess", "重新处理", "Reprocess"),
    (
        "jobs.kind.media_hls",
        "HLS 首选码率（低清/音频）",
        "HLS first variant (low/audio)",
    ),
    (
        "jobs.kind.media_hls_upper",
        "HLS 高清码率",
        "HLS higher variant",
    ),
    ("jobs.kind.media_mp4", "离线下载 MP4", "MP4 for download"),
    ("jobs.subject", "对象", "Subject"),
    (
        "jobs.empty",
        "目前没有后台任务。",
        "There are no background jobs.",
    ),
    (
        "jobs.times",
        "时间为北京时间。",
        "Times are China Standard Time (UTC+8).",
    ),
    ("platforms.title", "下级平台", "Downstream platforms"),
    ("platforms.name", "名称", "Name"),
    ("platforms.channel", "渠道", "Channel"),
    ("platforms.filters", "筛选", "Filters"),
    ("platforms.last_pull", "最近拉取", "Last pull"),
    ("platforms.lag", "游标落后", "Cursor lag"),
    ("platforms.failed", "投递失败", "Deliveries failed"),
    ("platforms.keys", "有效密钥", "Live keys"),
    ("platforms.never", "从未", "never"),
    (
        "platforms.none",
        "还没有可管理的下级平台。",
        "No platforms you administer yet.",
    ),
    ("platforms.disabled", "已停用", "disabled"),
    ("nav.password", "修改密码", "Password"),
    ("logout", "退出", "Sign out"),
    ("login", "登录", "Sign in"),
    ("login.name", "用户名", "Login name"),
    ("password", "密码", "Password"),
    ("password.title", "修改密码", "Change password"),
    ("password.current", "当前密码", "Current password"),
    ("password.new", "新密码", "New password"),
    (
        "password.done",
        "密码已修改，请重新登录。",
        "Password changed; please sign in again.",
    ),
    ("save", "保存", "Save"),
    ("create", "创建", "Create"),
    ("cancel", "取消", "Cancel"),
    ("error", "出错了", "Something went wrong"),
    (
        "error.csrf",
        "表单已过期，请刷新页面后重试。",
        "The form expired; reload the page and try again.",
    ),
    (
        "error.login",
        "用户名或密码错误。",
        "Wrong login name or password.",
    ),
    (
        "error.throttled",
        "登录失败次数过多，请稍后再试。",
        "Too many failed logins; try again later.",
    ),
    ("lessons.title", "我的课程", "My lessons"),
    ("lessons.new", "新建课程", "New lesson"),
    ("lessons.empty", "暂无课程。", "No lessons yet."),
    (
        "lessons.more",
        "只显示前 200 条。",
        "Only the first 200 are shown.",
    ),
    ("lesson.title", "标题", "Title"),
    ("lesson.kind", "类型", "Kind"),
    ("lesson.description", "简介", "Description"),
    ("lesson.tags", "标签（逗号分隔）", "Tags (comma separated)"),
    ("lesson.tags_short", "标签", "Tags"),
    ("lesson.lecturer", "主讲人", "Lecturer"),
    ("lesson.series", "系列", "Series"),
    ("lesson.region", "行政区划代码", "Region code"),
    ("lesson.recorded_on", "录制日期", "Recorded on"),
    ("lesson.language", "语言", "Language"),
    ("lesson.org", "所属组织", "Organisation"),
    ("lesson.status", "状态", "Status"),
    ("lesson.review", "审核状态", "Review"),
    ("lesson.updated", "更新时间", "Updated"),
    ("lesson.edit", "编辑", "Edit"),
    ("lesson.edit_title", "编辑课程", "Edit lesson"),
    ("lesson.assets", "文件", "Files"),
    ("lesson.no_assets", "尚无文件。", "No files yet."),
    ("lesson.revisions", "修订记录", "Revisions"),
    ("lesson.upload", "上传文件", "Upload a file"),
    ("lesson.submit", "提交审核", "Submit for review"),
    ("lesson.publish", "发布", "Publish"),
    ("lesson.withdraw", "撤回", "Withdraw"),
    ("lesson.actions", "操作", "Actions"),
    ("nav.main", "主导航", "Main"),
    ("nav.library", "学习库", "Library"),
    ("nav.search", "搜索", "Search"),
    ("nav.status", "运行状态", "Status"),
    (
        "error.staff_only",
        "此页面仅供工作人员使用。",
        "This page is for staff only.",
    ),
    (
        "error.not_found",
        "找不到这个页面，或者您无权查看。",
        "There is no such page, or you may not see it.",
    ),
    ("error.invalid", "请求有误", "The request is not valid"),
    ("error.title.400", "请求有误", "Bad request"),
    ("error.title.401", "请先登录", "Please sign in"),
    ("error.title.403", "无权访问", "Not allowed"),
    ("error.title.404", "找不到页面", "Not found"),
    ("error.title.409", "操作冲突", "Conflict"),
    ("error.title.413", "内容过大", "Too large"),
    ("error.title.429", "请求过于频繁", "Too many requests"),
    (
        "error.title.500",
        "服务器内部错误，已记录。",
        "An internal error occurred; it has been logged.",
    ),
    (
        "error.title.503",
        "服务暂时不可用，请稍后再试。",
        "The service is unavailable; try again shortly.",
    ),
    ("error.back", "返回学习库", "Back to the library"),
    ("library.title", "学习库", "Library"),
    ("library.count", "已发布课程", "Published lessons:"),
    ("library.continue", "继续学习", "Continue watching"),
    ("library.stopped_at", "上次看到", "Stopped at"),
    ("library.newest", "最新课程", "Newest lessons"),
    (
        "library.empty",
        "学习库里还没有已发布的课程。",
        "No lesson is published yet.",
    ),
    ("library.episodes", "共", "episodes:"),
    ("library.browse", "分类浏览", "Browse"),
    ("library.by_kind", "按类型", "By kind"),
    ("library.by_tag", "按标签", "By tag"),
    ("library.by_region", "按地区", "By region"),
    ("library.by_lecturer", "按主讲人", "By lecturer"),
    ("library.series", "系列", "Series"),
    ("library.lecturer", "主讲人", "Lecturer"),
    ("library.lessons_n", "课程数", "Lessons:"),
    ("library.podcast", "订阅播客", "Subscribe (podcast)"),
    (
        "library.more_search",
        "只列出前 500 节，更多请搜索：",
        "Only the first 500 are listed; search for more:",
    ),
    ("search.title", "搜索", "Search"),
    ("search.label", "搜索课程", "Search lessons"),
    (
        "search.placeholder",
        "搜索课程、主讲人（可用拼音）",
        "Lessons, lecturers, pinyin…",
    ),
    ("search.go", "搜索", "Search"),
    ("search.suggestions", "搜索建议", "Suggestions"),
    (
        "search.hint",
        "输入关键词、拼音或首字母开始搜索。",
        "Type words, pinyin or initials to search.",
    ),
    ("search.found", "找到", "Found"),
    ("search.found_unit", "节课程", "lessons"),
    ("search.sort", "排序", "Sort"),
    ("search.relevance", "最相关", "Best match"),
    ("search.newest", "最新", "Newest"),
    ("search.filters", "已选条件", "Filters"),
    ("search.remove", "去掉条件", "Remove filter"),
    ("search.moments", "讲到这里", "Where it is said"),
    ("search.machine", "机器转写", "machine transcript"),
    ("search.pages", "文档页", "Document pages"),
    ("search.page_n", "第 {n} 页", "Page {n}"),
    ("search.document", "文档", "Document"),
    ("search.pager", "翻页", "Pages"),
    ("search.previous", "上一页", "Previous"),
    ("search.next", "下一页", "Next"),
    (
        "search.partial",
        "以下课程只匹配了部分关键词",
        "These lessons match only some of the words",
    ),
    ("search.none", "没有找到相关课程。", "No lesson matches."),
    ("search.did_you_mean", "您是不是要找：", "Did you mean:"),
    (
        "search.fewer_filters",
        "试试去掉一些筛选条件。",
        "Try removing some filters.",
    ),
    ("search.popular", "热门系列：", "Popular series:"),
    ("search.facets", "筛选", "Refine"),
    (
        "search.invalid",
        "搜索条件有误：",
        "The search is not valid:",
    ),
    ("suggest.title", "课程", "lesson"),
    ("suggest.tag", "标签", "tag"),
    ("suggest.lecturer", "主讲人", "lecturer"),
    ("suggest.series", "系列", "series"),
    ("facet.kind", "类型", "Kind"),
    ("facet.tag", "标签", "Tag"),
    ("facet.series", "系列", "Series"),
    ("facet.year", "年份", "Year"),
    ("facet.region", "地区", "Region"),
    (
        "search.corrected_none",
        "没有找到与“{q}”相符的结果。",
        "Nothing matches “{q}”.",
    ),
    (
        "search.corrected_shown",
        "以下是“{q}”的结果",
        "Showing results for “{q}”",
    ),
    ("field.q", "关键词", "words"),
    ("field.kind", "类型", "kind"),
    ("field.tag", "标签", "tag"),
    ("field.lecturer", "主讲人", "lecturer"),
    ("field.series", "系列", "series"),
    ("field.region", "地区代码", "region"),
    ("field.from", "起始日期", "from"),
    ("field.to", "截止日期", "to"),
    ("field.sort", "排序", "sort"),
    ("field.page", "页码", "page"),
    ("field.query", "网址参数", "query string"),
    (
        "lesson.preview",
        "预览：这节课尚未发布，学员看不到。",
        "Preview: this lesson is not published; members cannot see it.",
    ),
    ("lesson.episode_n", "第 {n} 集", "episode {n}"),
    ("lesson.transcript", "文字稿", "Transcript"),
    (
        "lesson.transcript_search",
        "在文字稿中查找",
        "Find in the transcript",
    ),
    (
        "lesson.transcript_loading",
        "正在载入文字稿…",
        "Loading the transcript…",
    ),
    (
        "lesson.transcript_none",
        "文字稿为空。",
        "The transcript is empty.",
    ),
    (
        "lesson.play_file",
        "播放或下载媒体文件",
        "Play or download the media file",
    ),
    ("lesson.pages_n", "共 {n} 页", "{n} pages"),
    ("lesson.download", "下载", "Download"),
    ("lesson.earlier_pages", "前面的页", "Earlier pages"),
    ("lesson.later_pages", "后面的页", "Later pages"),
    ("lesson.page_text", "本页文字", "Text of this page"),
    (
        "lesson.page_pending",
        "本页正在处理。",
        "This page is being processed.",
    ),
    ("lesson.downloads", "附件下载", "Downloads"),
    ("lesson.episodes", "同系列", "Episodes"),
    ("lesson.previous", "上一集", "Previous"),
    ("lesson.next", "下一集", "Next"),
    ("lesson.manage", "管理这节课", "Manage this lesson"),
    ("kind.video", "视频", "Video"),
    ("kind.audio", "音频", "Audio"),
    ("kind.document", "文档", "Document"),
    ("status.draft", "草稿", "Draft"),
    ("status.published", "已发布", "Published"),
    ("status.withdrawn", "已撤回", "Withdrawn"),
    ("state.draft", "草稿", "Draft"),
    ("state.submitted", "待审核", "Submitted"),
    ("state.approved", "已通过", "Approved"),
    ("state.rejected", "已退回", "Rejected"),
    ("state.published", "已发布", "Published"),
    ("state.superseded", "已替代", "Superseded"),
    ("state.none", "—", "—"),
    ("asset.file", "文件名", "File"),
    ("asset.role", "用途", "Role"),
    ("asset.size", "大小", "Size"),
    ("asset.type", "类型", "Type"),
    ("asset.text", "全文检索", "Text for search"),
    ("asset.text_ok", "已提取", "extracted"),
    ("asset.text_failed", "未能提取", "not extracted"),
    ("asset.text_partial", "部分提取", "partly extracted"),
    ("asset.media", "媒体处理", "Media"),
    ("media.pending", "处理中", "processing"),
    ("media.ready", "可播放", "playable"),
    ("media.unplayable", "无法播放", "cannot be played"),
    (
        "media.superseded",
        "已被新母版替换",
        "replaced by a newer master",
    ),
    ("media.pages", "共 {n} 页", "{n} pages"),
    ("media.renditions", "{n} 个转码版本", "{n} renditions"),
    ("media.failed", "{n} 个失败", "{n} failed"),
    ("lesson.subtitles", "字幕", "Subtitles"),
    ("lesson.cues", "{n} 条", "{n} cues"),
    (
        "lesson.machine_note",
        "机器转写，上传校对后的字幕文件即可替换",
        "machine transcript; upload a corrected subtitle file to replace it",
    ),
    ("role.master", "主文件", "Master"),
    ("role.subtitle", "字幕", "Subtitle"),
    ("role.attachment", "附件", "Attachment"),
    ("role.poster", "封面", "Poster"),
    ("revision.number", "版本", "Revision"),
    ("revision.state", "状态", "State"),
    ("revision.submitted", "提交时间", "Submitted"),
    ("revision.comment", "审核意见", "Comment"),
    ("upload.title", "上传文件", "Upload a file"),
    ("upload.file", "选择文件", "Choose a file"),
    ("upload.start", "开始上传", "Start upload"),
    (
        "upload.hint",
        "大文件可断点续传：网络中断后会自动重试，刷新页面后重新选择同一文件即可继续。",
        "Large files resume: after a network failure the upload retries by itself; after a reload, choose the same file again to continue.",
    ),
    ("upload.back", "返回课程", "Back to the lesson"),
    (
        "upload.noscript",
        "上传需要启用 JavaScript。",
        "Uploading needs JavaScript.",
    ),
    ("review.title", "待我审核", "Awaiting my review"),
    (
        "review.empty",
        "没有待审核的内容。",
        "Nothing awaits your review.",
    ),
    ("review.level", "审核层级", "Level"),
    ("review.approve", "通过", "Approve"),
    ("review.reject", "退回", "Reject"),
    ("review.comment", "退回意见（必填）", "Reason (required)"),
    ("orgs.title", "组织管理", "Organisations"),
    ("orgs.name", "名称", "Name"),
    ("orgs.level", "层级", "Level"),
    ("orgs.region", "区划代码", "Region code"),
    ("orgs.parent", "上级组织", "Parent"),
    ("orgs.new", "新建下级组织", "New child organisation"),
    (
        "orgs.review_required",
        "需本级审核",
        "Reviews at this level",
    ),
    ("level.province", "省", "Province"),
    ("level.city", "市", "City"),
    ("level.county", "县", "County"),
    ("level.township", "乡镇", "Township"),
    ("level.branch", "支部", "Branch"),
    ("level.other", "其他", "Other"),
    ("users.title", "账号管理", "Accounts"),
    ("users.login", "用户名", "Login"),
    ("users.name", "姓名", "Name"),
    ("users.grants", "角色", "Roles"),
    ("users.new", "新建账号", "New account"),
    ("users.add_grant", "添加角色", "Add a role"),
    ("users.remove", "移除", "Remove"),
    ("users.disabled", "已停用", "disabled"),
    (
        "users.password",
        "初始密码（至少 10 位）",
        "Initial password (10+ characters)",
    ),
    ("grant.role", "角色", "Role"),
    ("role.administrator", "管理员", "Administrator"),
    ("role.reviewer", "审核员", "Reviewer"),
    ("role.editor", "编辑", "Editor"),
    ("role.member", "学员", "Member"),
    ("home.published", "已发布课程", "Published lessons"),
    ("home.drafts", "草稿", "Drafts"),
    ("home.withdrawn", "已撤回", "Withdrawn"),
    ("home.objects", "存储对象", "Stored objects"),
    ("home.database", "数据库", "Database"),
    ("home.storage", "对象存储", "Object storage"),
    (
        "home.intro",
        "一次上传、审核，分发到各级平台。",
        "Prepared once, reviewed, published to every platform.",
    ),
    ("home.api", "API 文档", "API documentation"),
];

/// The text of `id` in `lang`; the id itself when there is none.
pub fn translate(lang: Lang, id: &str) -> String {
    TABLE
        .iter()
        .find(|(k, _, _)| *k == id)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => *zh,
            Lang::En => *en,
        })
        .unwrap_or(id)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_both_languages_are_filled() {
        let mut ids: Vec<&str> = TABLE.iter().map(|(k, _, _)| *k).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate message ids");
        assert!(
            TABLE
                .iter()
                .all(|(_, zh, en)| !zh.is_empty() && !en.is_empty())
        );
        assert_eq!(translate(Lang::En, "login"), "Sign in");
        // Every label a page builds from a closed set of values exists.
        for kind in crate::domain::job::JobKind::ALL {
            let id = format!("jobs.kind.{}", kind.as_str());
            assert!(TABLE.iter().any(|(k, _, _)| *k == id), "no label {id}");
        }
        for state in crate::domain::job::JobState::ALL {
            let id = format!("jobs.state.{}", state.as_str());
            assert!(TABLE.iter().any(|(k, _, _)| *k == id), "no label {id}");
        }
        assert_eq!(translate(Lang::Zh, "no.such.id"), "no.such.id");
    }
}
