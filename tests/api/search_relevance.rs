//! The relevance suite of search (issue 3): a catalogue of realistic lesson metadata from a
//! provincial Party-school and rural-education library, a table of queries with the lessons each
//! must return first and the lessons it must never return, and the behaviour around it —
//! withdrawal, drafts, hostile queries, paging, sorting, facets and suggestions.
//!
//! The table test runs every case and reports all failures together, so a regression shows its
//! whole extent rather than the first casualty. Lessons are named by a short key in the tables;
//! failures print the keys of the lessons returned.

use crate::common::TestApp;
use crate::search::indexed;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// One lesson of the catalogue. Empty `lecturer`, `series` and `region` mean none.
struct Lesson {
    key: &'static str,
    title: &'static str,
    description: &'static str,
    kind: &'static str,
    tags: &'static [&'static str],
    lecturer: &'static str,
    series: &'static str,
    region: &'static str,
    recorded_on: &'static str,
}

/// The regions used below (GB/T 2260, 2023): 广东省 440000 with 广州市 440100 (天河区 440106,
/// 增城区 440118 — 440183 was 增城市 until 2014 and no longer exists) and 潮州市 445100; 江苏省
/// 320000 with 苏州市 320500; 四川省 510000 with 成都市 510100.
const CATALOGUE: &[Lesson] = &[
    // 党史学习教育
    Lesson {
        key: "ds-intro",
        title: "党史学习教育专题讲座：百年党史的光辉历程",
        description: "回顾中国共产党成立一百年来的奋斗历程，总结党的历史经验。",
        kind: "video",
        tags: &["党史", "党史学习教育"],
        lecturer: "王建国",
        series: "党史学习教育",
        region: "440000",
        recorded_on: "2021-03-15",
    },
    Lesson {
        key: "ds-yanan",
        title: "延安精神与党的作风建设",
        description: "从延安时期的整风运动讲起，阐述实事求是、理论联系实际的优良作风。",
        kind: "audio",
        tags: &["党史", "延安精神"],
        lecturer: "王建国",
        series: "党史学习教育",
        region: "440000",
        recorded_on: "2021-04-20",
    },
    Lesson {
        key: "ds-sichuan",
        title: "四川红色资源与党史教育",
        description: "以川陕革命根据地为例，介绍红色资源的保护和利用。",
        kind: "video",
        tags: &["党史", "红色文化"],
        lecturer: "赵红梅",
        series: "红色文化",
        region: "510000",
        recorded_on: "2021-06-10",
    },
    Lesson {
        key: "ds-reading",
        title: "《中国共产党简史》导读",
        description: "逐章导读，帮助党员把握党的历史主题主线。",
        kind: "document",
        tags: &["党史", "理论学习"],
        lecturer: "刘志强",
        series: "党史学习教育",
        region: "440100",
        recorded_on: "2021-05-08",
    },
    // 乡村振兴
    Lesson {
        key: "rv-strategy",
        title: "乡村振兴战略的总体要求",
        description: "解读产业兴旺、生态宜居、乡风文明、治理有效、生活富裕二十字方针。",
        kind: "video",
        tags: &["乡村振兴", "政策解读"],
        lecturer: "陈立新",
        series: "乡村振兴大讲堂",
        region: "440000",
        recorded_on: "2019-11-05",
    },
    Lesson {
        key: "rv-law",
        title: "《中华人民共和国乡村振兴促进法》解读",
        description: "2021年6月1日起施行的促进法的主要内容与配套制度。",
        kind: "video",
        tags: &["乡村振兴", "法治", "政策解读"],
        lecturer: "孙丽华",
        series: "法治讲堂",
        region: "440100",
        recorded_on: "2021-06-01",
    },
    Lesson {
        key: "rv-talent",
        title: "乡村人才振兴的路径",
        description: "培养新型职业农民，吸引青年返乡创业。",
        kind: "audio",
        tags: &["乡村振兴", "人才"],
        lecturer: "陈立新",
        series: "乡村振兴大讲堂",
        region: "320500",
        recorded_on: "2022-03-18",
    },
    Lesson {
        key: "rv-zengcheng",
        title: "增城区乡村振兴示范带建设经验",
        description: "以荔枝产业和乡村旅游带动示范带建设。",
        kind: "video",
        tags: &["乡村振兴", "乡村旅游"],
        lecturer: "黄志明",
        series: "乡村振兴大讲堂",
        region: "440118",
        recorded_on: "2022-07-22",
    },
    Lesson {
        key: "rv-governance",
        title: "乡村治理体系现代化",
        description: "自治、法治、德治相结合的乡村治理体系。",
        kind: "audio",
        tags: &["乡村治理"],
        lecturer: "孙丽华",
        series: "法治讲堂",
        region: "510100",
        recorded_on: "2020-09-12",
    },
    Lesson {
        key: "env-toilet",
        title: "农村人居环境整治与厕所革命",
        description: "垃圾分类、污水治理与村容村貌提升。",
        kind: "video",
        tags: &["人居环境"],
        lecturer: "郑晓东",
        series: "乡村振兴大讲堂",
        region: "440118",
        recorded_on: "2020-10-15",
    },
    // 基层党组织建设, e支部, 5G
    Lesson {
        key: "pb-branch",
        title: "基层党组织建设标准化规范化",
        description: "以提升组织力为重点，推进党支部标准化规范化建设。",
        kind: "video",
        tags: &["基层党建", "党支部"],
        lecturer: "李卫东",
        series: "基层党建",
        region: "440106",
        recorded_on: "2020-05-20",
    },
    Lesson {
        key: "pb-secretary",
        title: "村党组织书记的能力提升",
        description: "村党组织书记如何带头致富、带领群众共同致富。",
        kind: "audio",
        tags: &["基层党建", "村干部"],
        lecturer: "李卫东",
        series: "基层党建",
        region: "445100",
        recorded_on: "2021-09-09",
    },
    Lesson {
        key: "pb-meetings",
        title: "三会一课制度的规范落实",
        description: "支部党员大会、支部委员会、党小组会和党课的组织方法。",
        kind: "document",
        tags: &["基层党建", "党课"],
        lecturer: "刘志强",
        series: "基层党建",
        region: "440106",
        recorded_on: "2019-04-16",
    },
    Lesson {
        key: "pb-ebranch",
        title: "e支部平台操作指南（2021年版）",
        description: "广东省智慧党建平台的登录、组织生活记录与积分管理。",
        kind: "document",
        tags: &["e支部", "智慧党建"],
        lecturer: "周敏",
        series: "智慧党建",
        region: "440000",
        recorded_on: "2021-02-01",
    },
    Lesson {
        key: "pb-5g",
        title: "5G+智慧党建：让党员学习触手可及",
        description: "利用5G网络和视频直播开展远程党员教育。",
        kind: "video",
        tags: &["5G", "智慧党建"],
        lecturer: "周敏",
        series: "智慧党建",
        region: "440100",
        recorded_on: "2022-10-11",
    },
    // 农业技术
    Lesson {
        key: "ag-rice",
        title: "水稻种植关键技术",
        description: "从育秧、插秧到水肥管理，讲解双季稻高产栽培技术。",
        kind: "video",
        tags: &["农业技术", "水稻"],
        lecturer: "何永平",
        series: "农业技术推广",
        region: "440118",
        recorded_on: "2020-03-02",
    },
    Lesson {
        key: "ag-rice-pest",
        title: "水稻病虫害绿色防控",
        description: "稻飞虱、稻纵卷叶螟的识别与生物防治。",
        kind: "video",
        tags: &["农业技术", "水稻", "植保"],
        lecturer: "何永平",
        series: "农业技术推广",
        region: "445100",
        recorded_on: "2021-07-15",
    },
    Lesson {
        key: "ag-pruning",
        title: "果树修剪技术要点",
        description: "荔枝、龙眼的冬季修剪与控梢促花。",
        kind: "video",
        tags: &["农业技术", "果树"],
        lecturer: "梁国栋",
        series: "农业技术推广",
        region: "440118",
        recorded_on: "2019-12-10",
    },
    Lesson {
        key: "ag-citrus",
        title: "柑橘栽培与果园管理",
        description: "柑橘黄龙病防控与果园水肥一体化。",
        kind: "audio",
        tags: &["农业技术", "果树"],
        lecturer: "梁国栋",
        series: "农业技术推广",
        region: "445100",
        recorded_on: "2022-01-20",
    },
    Lesson {
        key: "ag-pig",
        title: "生猪养殖与非洲猪瘟防控",
        description: "规模猪场的生物安全体系建设。",
        kind: "video",
        tags: &["农业技术", "生猪养殖", "畜牧"],
        lecturer: "吴海燕",
        series: "农业技术推广",
        region: "510100",
        recorded_on: "2020-08-08",
    },
    Lesson {
        key: "ag-pig-manure",
        title: "生猪养殖粪污资源化利用",
        description: "种养结合，粪污变废为宝。",
        kind: "document",
        tags: &["生猪养殖", "生态环保"],
        lecturer: "吴海燕",
        series: "",
        region: "510000",
        recorded_on: "2021-11-30",
    },
    Lesson {
        key: "ag-fish",
        title: "淡水鱼健康养殖技术",
        description: "太湖流域池塘的水质调控与鱼病防治。",
        kind: "video",
        tags: &["农业技术", "水产养殖"],
        lecturer: "顾建华",
        series: "农业技术推广",
        region: "320500",
        recorded_on: "2021-05-26",
    },
    Lesson {
        key: "ag-ai",
        title: "AI+农业：智能灌溉与无人机植保",
        description: "无人机植保服务覆盖水稻、甘蔗等作物。",
        kind: "video",
        tags: &["智慧农业", "数字乡村"],
        lecturer: "何永平",
        series: "数字乡村",
        region: "440118",
        recorded_on: "2023-05-10",
    },
    // 数字乡村, 电子商务, 直播带货
    Lesson {
        key: "ec-live",
        title: "直播带货：农产品电商入门",
        description: "手机直播卖货的选品、话术与物流。",
        kind: "video",
        tags: &["电子商务", "直播带货", "数字乡村"],
        lecturer: "林晓峰",
        series: "数字乡村",
        region: "445100",
        recorded_on: "2022-05-19",
    },
    Lesson {
        key: "ec-taobao",
        title: "农村电子商务与淘宝村发展",
        description: "沭阳、揭阳等地淘宝村的经验与启示。",
        kind: "audio",
        tags: &["电子商务", "数字乡村"],
        lecturer: "林晓峰",
        series: "数字乡村",
        region: "320500",
        recorded_on: "2020-11-11",
    },
    Lesson {
        key: "ec-digital",
        title: "数字乡村建设发展规划解读",
        description: "《数字乡村发展战略纲要》与国家数字乡村试点。",
        kind: "audio",
        tags: &["数字乡村", "政策解读"],
        lecturer: "周敏",
        series: "数字乡村",
        region: "440000",
        recorded_on: "2021-08-25",
    },
    Lesson {
        key: "ec-brand",
        title: "农产品品牌建设与网络营销",
        description: "地理标志农产品的包装、品牌故事与短视频营销。",
        kind: "video",
        tags: &["电子商务", "品牌"],
        lecturer: "林晓峰",
        series: "数字乡村",
        region: "440118",
        recorded_on: "2023-04-12",
    },
    // 政策解读
    Lesson {
        key: "pol-doc1",
        title: "2021年中央一号文件解读",
        description: "关于全面推进乡村振兴加快农业农村现代化的意见。",
        kind: "video",
        tags: &["政策解读", "中央一号文件"],
        lecturer: "陈立新",
        series: "政策解读",
        region: "440000",
        recorded_on: "2021-02-25",
    },
    Lesson {
        key: "pol-14th",
        title: "“十四五”规划和二〇三五年远景目标纲要",
        description: "国民经济和社会发展第十四个五年规划的主要目标。",
        kind: "audio",
        tags: &["政策解读"],
        lecturer: "王建国",
        series: "政策解读",
        region: "320000",
        recorded_on: "2021-03-12",
    },
    Lesson {
        key: "pol-common",
        title: "共同富裕的理论与实践",
        description: "浙江高质量发展建设共同富裕示范区的做法。",
        kind: "video",
        tags: &["政策解读", "共同富裕"],
        lecturer: "郑晓东",
        series: "政策解读",
        region: "",
        recorded_on: "2021-08-30",
    },
    Lesson {
        key: "gba",
        title: "粵港澳大灣區城鄉融合發展",
        description: "香港學者講解大灣區的城鄉融合與要素流動。",
        kind: "video",
        tags: &["大湾区"],
        lecturer: "陳家明",
        series: "",
        region: "440000",
        recorded_on: "2023-06-15",
    },
    // 中国农业发展银行 and rural finance
    Lesson {
        key: "fin-adbc",
        title: "中国农业发展银行支持乡村振兴的信贷政策",
        description: "农发行粮棉油收储贷款与农村基础设施贷款介绍。",
        kind: "video",
        tags: &["金融", "乡村振兴"],
        lecturer: "钱文静",
        series: "金融服务乡村振兴",
        region: "440000",
        recorded_on: "2021-10-20",
    },
    Lesson {
        key: "fin-credit",
        title: "农户小额信用贷款申请指南",
        description: "农村信用社小额贷款的条件、额度与还款。",
        kind: "document",
        tags: &["金融", "农村信贷"],
        lecturer: "钱文静",
        series: "金融服务乡村振兴",
        region: "510100",
        recorded_on: "2020-06-18",
    },
    Lesson {
        key: "fin-insurance",
        title: "农业保险：为丰收保驾护航",
        description: "政策性农业保险的投保与理赔。",
        kind: "audio",
        tags: &["金融", "农业保险"],
        lecturer: "钱文静",
        series: "金融服务乡村振兴",
        region: "320500",
        recorded_on: "2022-09-06",
    },
    // 法治
    Lesson {
        key: "law-civil",
        title: "民法典与农村生活",
        description: "土地承包经营权、宅基地与婚姻家庭中的民法典规定。",
        kind: "video",
        tags: &["法治", "民法典"],
        lecturer: "孙丽华",
        series: "法治讲堂",
        region: "440106",
        recorded_on: "2020-12-04",
    },
    Lesson {
        key: "law-dispute",
        title: "农村土地纠纷调解实务",
        description: "土地承包纠纷的调解与仲裁程序。",
        kind: "audio",
        tags: &["法治", "土地"],
        lecturer: "孙丽华",
        series: "法治讲堂",
        region: "445100",
        recorded_on: "2019-07-25",
    },
    Lesson {
        key: "law-fraud",
        title: "防范电信网络诈骗",
        description: "冒充公检法、刷单返利等常见骗局的识别。",
        kind: "video",
        tags: &["法治", "反诈"],
        lecturer: "马俊",
        series: "法治讲堂",
        region: "440100",
        recorded_on: "2022-06-14",
    },
    // 防汛抗旱
    Lesson {
        key: "flood-plan",
        title: "防汛抗旱应急预案与值守",
        description: "汛期前隐患排查、转移群众与值班值守。",
        kind: "video",
        tags: &["防汛抗旱", "应急管理"],
        lecturer: "罗志刚",
        series: "应急管理",
        region: "440118",
        recorded_on: "2020-05-28",
    },
    Lesson {
        key: "flood-drought",
        title: "抗旱保苗与农田水利",
        description: "干旱时期的灌溉调度与节水措施。",
        kind: "audio",
        tags: &["防汛抗旱", "农田水利"],
        lecturer: "罗志刚",
        series: "应急管理",
        region: "510100",
        recorded_on: "2022-08-16",
    },
    // 医保政策
    Lesson {
        key: "med-insurance",
        title: "城乡居民医保政策问答",
        description: "参保缴费、门诊报销与异地就医备案。",
        kind: "video",
        tags: &["医保政策", "民生"],
        lecturer: "许佳",
        series: "民生政策",
        region: "440106",
        recorded_on: "2023-01-09",
    },
    Lesson {
        key: "med-critical",
        title: "大病保险与医疗救助",
        description: "大病保险的报销比例与困难群众医疗救助。",
        kind: "document",
        tags: &["医保政策"],
        lecturer: "许佳",
        series: "民生政策",
        region: "445100",
        recorded_on: "2022-12-01",
    },
    // 非遗
    Lesson {
        key: "heritage-woodcarving",
        title: "潮州木雕与非物质文化遗产保护",
        description: "木雕的历史、技艺与传承人培养。",
        kind: "video",
        tags: &["非遗", "传统文化"],
        lecturer: "蔡文华",
        series: "非遗传承",
        region: "445100",
        recorded_on: "2021-12-18",
    },
    Lesson {
        key: "heritage-suxiu",
        title: "苏绣技艺传承",
        description: "苏州刺绣的针法与非遗工坊带动就业。",
        kind: "video",
        tags: &["非遗", "传统文化"],
        lecturer: "沈雅琴",
        series: "非遗传承",
        region: "320500",
        recorded_on: "2022-04-22",
    },
    Lesson {
        key: "heritage-shuxiu",
        title: "蜀绣与乡村文化振兴",
        description: "郫都区蜀绣产业带动妇女增收。",
        kind: "audio",
        tags: &["非遗", "文化振兴"],
        lecturer: "杨芳",
        series: "非遗传承",
        region: "510100",
        recorded_on: "2023-03-03",
    },
    // The three lessons that carry the document fixtures (see `document_fixtures`); their
    // metadata says nothing of the chapters inside.
    Lesson {
        key: "doc-pdf",
        title: "新时代农村干部培训教材",
        description: "供村两委干部集中培训使用。",
        kind: "document",
        tags: &["干部培训"],
        lecturer: "",
        series: "",
        region: "440000",
        recorded_on: "2022-02-14",
    },
    Lesson {
        key: "doc-docx",
        title: "村级组织工作手册",
        description: "村级组织日常工作的流程与表格。",
        kind: "document",
        tags: &["干部培训"],
        lecturer: "",
        series: "",
        region: "440100",
        recorded_on: "2022-02-15",
    },
    Lesson {
        key: "doc-pptx",
        title: "干部培训班开班第一课",
        description: "培训班开班动员与课程安排。",
        kind: "video",
        tags: &["干部培训"],
        lecturer: "陈立新",
        series: "",
        region: "440106",
        recorded_on: "2022-02-16",
    },
];

/// A lecture of 村党组织书记的能力提升: five cues, four of which mention 党组织.
const SECRETARY_SRT: &str = "1
00:00:05,000 --> 00:00:09,800
各位学员，大家好，今天我们讲村党组织书记的能力提升。

2
00:12:34,500 --> 00:12:41,200
乡村振兴战略的总要求是产业兴旺、生态宜居、乡风文明、治理有效、生活富裕。

3
00:25:03,120 --> 00:25:10,000
村党组织书记要当好“领头雁”，带领群众发展壮大村级集体经济。

4
00:31:10,000 --> 00:31:15,000
党组织要定期召开组织生活会，开展批评和自我批评。

5
00:40:00,000 --> 00:40:06,000
党组织书记要带头学习，带头遵守纪律。
";

/// The rice lecture's subtitles, in WebVTT.
const RICE_VTT: &str = "WEBVTT

00:00:01.000 --> 00:00:04.000
欢迎收看水稻种植关键技术。

00:05:12.000 --> 00:05:18.500
秧苗移栽后要保持浅水层，促进返青分蘖。

00:31:45.250 --> 00:31:52.000
抽穗扬花期遇到寒露风，要及时灌深水保温。
";

/// The fraud lecture's handout, plain text (no pages).
const FRAUD_TXT: &str = "防范电信网络诈骗典型案例\n\
典型案例一：冒充电商客服，以退款为由诱导下载会议软件并开启屏幕共享，骗取验证码。\n\
典型案例二：以刷单返利为诱饵，先小额返利再骗取大额转账。\n";

/// The assets uploaded before publication (lesson key, role, filename, bytes).
fn assets() -> Vec<(&'static str, &'static str, &'static str, Vec<u8>)> {
    let mut v = vec![
        (
            "pb-secretary",
            "subtitle",
            "村党组织书记.srt",
            SECRETARY_SRT.as_bytes().to_vec(),
        ),
        (
            "ag-rice",
            "subtitle",
            "水稻种植.vtt",
            RICE_VTT.as_bytes().to_vec(),
        ),
        (
            "law-fraud",
            "attachment",
            "典型案例.txt",
            FRAUD_TXT.as_bytes().to_vec(),
        ),
    ];
    let [pdf, docx, pptx] = document_fixtures();
    v.push(("doc-pdf", "master", "培训教材.pdf", pdf.to_vec()));
    v.push(("doc-docx", "attachment", "工作手册.docx", docx.to_vec()));
    v.push(("doc-pptx", "attachment", "开班第一课.pptx", pptx.to_vec()));
    v
}

/// The document fixtures (`tests/fixtures/documents`, three pages or slides: 第一章 乡村振兴战略
/// 概述, 第二章 农村基层党组织建设, 第三章 数字乡村与电子商务): PDF, DOCX, PPTX.
fn document_fixtures() -> [&'static [u8]; 3] {
    [
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/documents/lesson.pdf"
        )),
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/documents/lesson.docx"
        )),
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/documents/lesson.pptx"
        )),
    ]
}

/// One query of the table: with `params` (`q` and filters), every lesson of `expect` is among
/// the first `top` hits, and no lesson of `never` is among any hit (up to 50). `top == 0` means
/// nothing at all may be found.
struct Case {
    what: &'static str,
    params: &'static [(&'static str, &'static str)],
    top: usize,
    expect: &'static [&'static str],
    never: &'static [&'static str],
}

const CASES: &[Case] = &[
    // Whole words.
    Case {
        what: "a whole word in titles and tags",
        params: &[("q", "乡村振兴")],
        top: 8,
        expect: &["rv-strategy", "rv-law", "rv-zengcheng", "fin-adbc"],
        never: &["ag-pig", "law-fraud", "heritage-suxiu"],
    },
    Case {
        what: "a whole word that is also a tag",
        params: &[("q", "党史")],
        top: 5,
        expect: &["ds-intro", "ds-yanan", "ds-sichuan", "ds-reading"],
        never: &["pb-branch", "pb-meetings"],
    },
    Case {
        what: "a word of the description only",
        params: &[("q", "黄龙病")],
        top: 1,
        expect: &["ag-citrus"],
        never: &["ag-pruning"],
    },
    Case {
        what: "a word in a title and in a tag",
        params: &[("q", "医保")],
        top: 2,
        expect: &["med-insurance", "med-critical"],
        never: &["fin-insurance"],
    },
    Case {
        what: "a word in a title and in a tag, ranked above a passing mention",
        params: &[("q", "直播带货")],
        top: 1,
        expect: &["ec-live"],
        never: &["pb-5g"],
    },
    Case {
        what: "a word nothing contains",
        params: &[("q", "量子计算")],
        top: 0,
        expect: &[],
        never: &[],
    },
    // Substrings and single characters.
    Case {
        what: "a substring of a long word (中国农业发展银行)",
        params: &[("q", "发展银行")],
        top: 1,
        expect: &["fin-adbc"],
        never: &["ec-taobao", "ec-digital"],
    },
    Case {
        what: "a substring of a title word (防汛抗旱)",
        params: &[("q", "防汛")],
        top: 2,
        expect: &["flood-plan", "flood-drought"],
        never: &["med-insurance"],
    },
    Case {
        what: "a single character",
        params: &[("q", "猪")],
        top: 2,
        expect: &["ag-pig", "ag-pig-manure"],
        never: &["ag-rice", "ag-fish"],
    },
    Case {
        what: "a single character in two titles",
        params: &[("q", "绣")],
        top: 2,
        expect: &["heritage-suxiu", "heritage-shuxiu"],
        never: &["heritage-woodcarving"],
    },
    // Mixed Latin and Chinese, digits.
    Case {
        what: "a mixed Latin/Chinese word",
        params: &[("q", "e支部")],
        top: 1,
        expect: &["pb-ebranch"],
        never: &["ag-pig"],
    },
    Case {
        what: "digits and a Latin letter",
        params: &[("q", "5G")],
        top: 1,
        expect: &["pb-5g"],
        never: &["pb-ebranch"],
    },
    Case {
        what: "a phrase that ends inside a word (网 of 网络: its last character is a prefix)",
        params: &[("q", "\"5G网\"")],
        top: 1,
        expect: &["pb-5g"],
        never: &["pb-ebranch"],
    },
    Case {
        what: "a Latin word and a Chinese word",
        params: &[("q", "AI 植保")],
        top: 1,
        expect: &["ag-ai"],
        never: &["ag-rice-pest"],
    },
    Case {
        what: "a year with 年",
        params: &[("q", "2021年")],
        top: 3,
        expect: &["pb-ebranch", "pol-doc1", "rv-law"],
        never: &["ag-rice", "pol-14th"],
    },
    Case {
        what: "Chinese numerals",
        params: &[("q", "二〇三五")],
        top: 1,
        expect: &["pol-14th"],
        never: &[],
    },
    // Traditional characters.
    Case {
        what: "traditional characters find simplified text",
        params: &[("q", "黨史學習")],
        top: 3,
        expect: &["ds-intro"],
        never: &["pb-branch"],
    },
    Case {
        what: "simplified characters find traditional text",
        params: &[("q", "大湾区 城乡融合")],
        top: 1,
        expect: &["gba"],
        never: &["rv-governance"],
    },
    Case {
        what: "traditional characters find traditional text",
        params: &[("q", "灣區")],
        top: 1,
        expect: &["gba"],
        never: &[],
    },
    // Pinyin and initials.
    Case {
        what: "pinyin of a word",
        params: &[("q", "dangshi")],
        top: 5,
        expect: &["ds-intro", "ds-yanan", "ds-sichuan", "ds-reading"],
        never: &["ag-rice"],
    },
    Case {
        what: "pinyin syllables separated by a space",
        params: &[("q", "dang shi")],
        top: 5,
        expect: &["ds-intro"],
        never: &["ag-rice"],
    },
    Case {
        what: "pinyin of two words",
        params: &[("q", "xiangcun zhenxing")],
        top: 8,
        expect: &["rv-strategy", "rv-law", "rv-zengcheng", "fin-adbc"],
        never: &["ag-pig", "law-fraud"],
    },
    Case {
        what: "pinyin of a title word",
        params: &[("q", "shuidao")],
        top: 2,
        expect: &["ag-rice", "ag-rice-pest"],
        never: &["ag-pig"],
    },
    Case {
        what: "pinyin of a lecturer's name",
        params: &[("q", "sunlihua")],
        top: 4,
        expect: &["rv-law", "rv-governance", "law-civil", "law-dispute"],
        never: &["law-fraud"],
    },
    Case {
        what: "initials of a word",
        params: &[("q", "ds")],
        top: 10,
        expect: &["ds-intro"],
        never: &["ag-pig"],
    },
    Case {
        what: "initials of a four-character tag",
        params: &[("q", "fxkh")],
        top: 2,
        expect: &["flood-plan", "flood-drought"],
        never: &["med-insurance"],
    },
    // Lecturers.
    Case {
        what: "a lecturer's name",
        params: &[("q", "钱文静")],
        top: 3,
        expect: &["fin-adbc", "fin-credit", "fin-insurance"],
        never: &["rv-strategy"],
    },
    // Several words, phrases, exclusions.
    Case {
        what: "every word must match",
        params: &[("q", "水稻 病虫害")],
        top: 1,
        expect: &["ag-rice-pest"],
        never: &["ag-rice", "ag-citrus", "ag-ai"],
    },
    Case {
        what: "an exact phrase in a title and in a subtitle cue",
        params: &[("q", "\"乡村振兴战略\"")],
        top: 5,
        expect: &["rv-strategy", "pb-secretary"],
        never: &["rv-law", "fin-adbc", "ec-digital", "pol-doc1"],
    },
    Case {
        what: "a longer exact phrase only a cue holds (总要求, not 总体要求)",
        params: &[("q", "\"乡村振兴战略的总要求\"")],
        top: 1,
        expect: &["pb-secretary"],
        never: &["rv-strategy"],
    },
    Case {
        what: "an exclusion",
        params: &[("q", "水稻 -病虫害")],
        top: 2,
        expect: &["ag-rice"],
        never: &["ag-rice-pest"],
    },
    Case {
        what: "an excluded phrase",
        params: &[("q", "乡村振兴 -\"促进法\"")],
        top: 8,
        expect: &["rv-strategy", "fin-adbc"],
        never: &["rv-law"],
    },
    // Filters.
    Case {
        what: "kind filter",
        params: &[("q", "生猪养殖"), ("kind", "document")],
        top: 1,
        expect: &["ag-pig-manure"],
        never: &["ag-pig"],
    },
    Case {
        what: "tag filter",
        params: &[("q", "乡村振兴"), ("tag", "法治")],
        top: 1,
        expect: &["rv-law"],
        never: &["rv-strategy", "fin-adbc"],
    },
    Case {
        what: "lecturer filter",
        params: &[("q", "农村"), ("lecturer", "孙丽华")],
        top: 2,
        expect: &["law-civil", "law-dispute"],
        never: &["fin-credit", "env-toilet", "rv-law"],
    },
    Case {
        what: "series filter",
        params: &[("q", "水稻"), ("series", "农业技术推广")],
        top: 2,
        expect: &["ag-rice", "ag-rice-pest"],
        never: &["ag-ai"],
    },
    Case {
        what: "date range, both bounds inclusive",
        params: &[("q", "党史"), ("from", "2021-04-20"), ("to", "2021-06-10")],
        top: 3,
        expect: &["ds-yanan", "ds-reading", "ds-sichuan"],
        never: &["ds-intro"],
    },
    Case {
        what: "two filters and no query",
        params: &[("kind", "audio"), ("tag", "非遗")],
        top: 1,
        expect: &["heritage-shuxiu"],
        never: &["heritage-woodcarving", "heritage-suxiu"],
    },
    // Regions: a code matches its subtree, never its ancestors; names are searchable.
    Case {
        what: "province subtree",
        params: &[("q", "乡村振兴"), ("region", "440000")],
        top: 8,
        expect: &["rv-strategy", "rv-law", "rv-zengcheng", "fin-adbc"],
        never: &["rv-talent"],
    },
    Case {
        what: "city subtree includes districts, not the province itself",
        params: &[("q", "党"), ("region", "440100")],
        top: 10,
        expect: &["ds-reading", "pb-branch", "pb-meetings", "pb-5g"],
        never: &["ds-intro", "pb-ebranch", "pb-secretary", "ds-sichuan"],
    },
    Case {
        what: "a district, no query",
        params: &[("region", "440118")],
        top: 20,
        expect: &[
            "ag-rice",
            "ag-pruning",
            "rv-zengcheng",
            "ec-brand",
            "flood-plan",
            "env-toilet",
            "ag-ai",
        ],
        never: &["pb-branch", "ag-citrus", "rv-strategy"],
    },
    Case {
        what: "another province's subtree",
        params: &[("q", "养殖"), ("region", "510000")],
        top: 2,
        expect: &["ag-pig", "ag-pig-manure"],
        never: &["ag-fish"],
    },
    Case {
        what: "a district's name finds its lessons",
        params: &[("q", "天河")],
        top: 5,
        expect: &[
            "pb-branch",
            "pb-meetings",
            "law-civil",
            "med-insurance",
            "doc-pptx",
        ],
        never: &["flood-plan", "ds-reading"],
    },
    Case {
        what: "a district's name with a word",
        params: &[("q", "增城 荔枝")],
        top: 2,
        expect: &["rv-zengcheng", "ag-pruning"],
        never: &["ag-citrus"],
    },
    Case {
        what: "a city's name: in a title first, then by region",
        params: &[("q", "潮州")],
        top: 7,
        expect: &[
            "heritage-woodcarving",
            "pb-secretary",
            "ag-rice-pest",
            "ag-citrus",
            "ec-live",
            "law-dispute",
            "med-critical",
        ],
        never: &["heritage-suxiu"],
    },
    // What the lecturer said and the handout.
    Case {
        what: "a word only a subtitle cue holds (SRT)",
        params: &[("q", "领头雁")],
        top: 1,
        expect: &["pb-secretary"],
        never: &["pb-branch"],
    },
    Case {
        what: "a word only a subtitle cue holds (WebVTT)",
        params: &[("q", "寒露风")],
        top: 1,
        expect: &["ag-rice"],
        never: &["ag-rice-pest"],
    },
    Case {
        what: "a phrase only a text attachment holds",
        params: &[("q", "屏幕共享")],
        top: 1,
        expect: &["law-fraud"],
        never: &[],
    },
];

/// The cases of the document fixtures (uploaded to `doc-pdf`, `doc-docx` and `doc-pptx`).
/// Pinyin as people type it (issue 13): the spellings input methods accept as the same (z/zh,
/// c/ch, s/sh, n/l, an/ang, en/eng, in/ing), one slip of a key (corrected when nothing matches
/// as typed), and the installation's synonyms ([`SYNONYMS`], saved by [`seed`]).
const TYPED_CASES: &[Case] = &[
    Case {
        what: "fuzzy pinyin: s for sh (水稻)",
        params: &[("q", "suidao")],
        top: 3,
        expect: &["ag-rice", "ag-rice-pest"],
        never: &["ds-intro", "heritage-suxiu"],
    },
    Case {
        what: "fuzzy pinyin: s for sh, en for eng, z for zh at once (生猪)",
        params: &[("q", "senzu")],
        top: 3,
        expect: &["ag-pig", "ag-pig-manure"],
        never: &["ag-fish"],
    },
    Case {
        what: "fuzzy pinyin: l for n (农村)",
        params: &[("q", "longcun")],
        top: 8,
        expect: &["env-toilet", "ec-taobao", "law-civil"],
        never: &["ag-fish", "ds-intro"],
    },
    Case {
        what: "fuzzy pinyin: an for ang and in for ing, two words (乡村 振兴)",
        params: &[("q", "xiancun zhenxin")],
        top: 8,
        expect: &["rv-strategy", "rv-law", "rv-zengcheng"],
        never: &["ag-pig", "law-fraud"],
    },
    Case {
        what: "fuzzy pinyin: an for ang (党建)",
        params: &[("q", "danjian")],
        top: 6,
        expect: &["pb-branch", "pb-5g"],
        never: &["ag-rice"],
    },
    Case {
        what: "fuzzy pinyin: ing for in (民法典)",
        params: &[("q", "mingfadian")],
        top: 1,
        expect: &["law-civil"],
        never: &["law-fraud"],
    },
    Case {
        what: "fuzzy pinyin: an for ang (防汛)",
        params: &[("q", "fanxun")],
        top: 3,
        expect: &["flood-plan", "flood-drought"],
        never: &["law-fraud"],
    },
    Case {
        what: "fuzzy pinyin: z for zh in a lecturer's name (周敏)",
        params: &[("q", "zoumin")],
        top: 3,
        expect: &["pb-ebranch", "pb-5g", "ec-digital"],
        never: &["ag-rice"],
    },
    Case {
        what: "fuzzy pinyin: n for l in a lecturer's name (刘志强)",
        params: &[("q", "niuzhiqiang")],
        top: 3,
        expect: &["ds-reading", "pb-meetings"],
        never: &["ag-rice"],
    },
    Case {
        what: "one slip: two letters swapped (乡村)",
        params: &[("q", "xiangcnu")],
        top: 8,
        expect: &["rv-talent", "rv-governance"],
        never: &["ag-fish", "law-fraud"],
    },
    Case {
        what: "one slip: two letters swapped (水稻)",
        params: &[("q", "shuidoa")],
        top: 3,
        expect: &["ag-rice", "ag-rice-pest"],
        never: &["ds-intro"],
    },
    Case {
        what: "one slip: a letter missing (民法典)",
        params: &[("q", "minfadan")],
        top: 1,
        expect: &["law-civil"],
        never: &["law-fraud"],
    },
    Case {
        what: "one slip: a letter too many (党史)",
        params: &[("q", "dangshii")],
        top: 5,
        expect: &["ds-intro", "ds-yanan", "ds-reading"],
        never: &["ag-rice", "law-civil"],
    },
    Case {
        what: "one slip: a wrong letter (防汛)",
        params: &[("q", "fangxum")],
        top: 3,
        expect: &["flood-plan", "flood-drought"],
        never: &["law-fraud"],
    },
    Case {
        what: "one slip in the second of two words (政策 解读)",
        params: &[("q", "zhengce jiedo")],
        top: 8,
        expect: &["pol-doc1", "ec-digital"],
        never: &["ag-fish", "heritage-suxiu"],
    },
    Case {
        what: "a synonym finds what its group's other term names (轮训 → 干部培训)",
        params: &[("q", "轮训")],
        top: 3,
        expect: &["doc-pdf", "doc-docx", "doc-pptx"],
        never: &["ag-rice"],
    },
    Case {
        what: "a synonym of a tag (防骗 → 反诈)",
        params: &[("q", "防骗")],
        top: 1,
        expect: &["law-fraud"],
        never: &["fin-credit"],
    },
    Case {
        what: "a synonym inside a title (猪病 → 猪瘟)",
        params: &[("q", "猪病")],
        top: 1,
        expect: &["ag-pig"],
        never: &["ag-fish", "ag-pig-manure"],
    },
    Case {
        what: "the term itself ranks above its synonym (干部培训 before 轮训's others)",
        params: &[("q", "干部培训")],
        top: 3,
        expect: &["doc-pdf", "doc-docx", "doc-pptx"],
        never: &["ag-rice"],
    },
];

/// The synonyms [`seed`] saves for [`TYPED_CASES`]: no term of them is a query of [`CASES`].
const SYNONYMS: &[&[&str]] = &[
    &["轮训", "干部培训"],
    &["防骗", "反诈", "防诈骗"],
    &["猪病", "猪瘟"],
];

const DOCUMENT_CASES: &[Case] = &[
    Case {
        what: "a chapter heading inside a PDF, DOCX and PPTX",
        params: &[("q", "第二章")],
        top: 3,
        expect: &["doc-pdf", "doc-docx", "doc-pptx"],
        never: &["pb-branch"],
    },
    Case {
        what: "a phrase inside the documents, not the tags it resembles",
        params: &[("q", "\"数字乡村与电子商务\"")],
        top: 3,
        expect: &["doc-pdf", "doc-docx", "doc-pptx"],
        never: &["ec-taobao", "ec-live"],
    },
    Case {
        what: "document text with a kind filter",
        params: &[("q", "乡村振兴战略概述"), ("kind", "document")],
        top: 2,
        expect: &["doc-pdf", "doc-docx"],
        never: &["doc-pptx", "rv-strategy"],
    },
];

/// What a hit must carry beyond its place in the list.
enum Detail {
    /// The first (best) cue starts at `start_ms` and says `text`.
    Cue { start_ms: u64, text: &'static str },
    /// A page (`None`: a format without pages) whose text holds `text`.
    Page {
        page: Option<u64>,
        text: &'static str,
    },
    /// The hit's JSON at `pointer` is the string `value`.
    Field {
        pointer: &'static str,
        value: &'static str,
    },
    /// The string at `pointer` contains `text`.
    Contains {
        pointer: &'static str,
        text: &'static str,
    },
}

/// (query, lesson key, detail).
const EXTRACTS: &[(&str, &str, Detail)] = &[
    (
        "领头雁",
        "pb-secretary",
        Detail::Cue {
            start_ms: 1_503_120,
            text: "领头雁",
        },
    ),
    (
        "\"乡村振兴战略的总要求\"",
        "pb-secretary",
        Detail::Cue {
            start_ms: 754_500,
            text: "产业兴旺",
        },
    ),
    (
        "寒露风",
        "ag-rice",
        Detail::Cue {
            start_ms: 1_905_250,
            text: "寒露风",
        },
    ),
    (
        "返青分蘖",
        "ag-rice",
        Detail::Cue {
            start_ms: 312_000,
            text: "浅水层",
        },
    ),
    (
        "屏幕共享",
        "law-fraud",
        Detail::Page {
            page: None,
            text: "屏幕共享",
        },
    ),
    (
        "党史",
        "ds-intro",
        Detail::Contains {
            pointer: "/highlights/title",
            text: "<mark>党史</mark>",
        },
    ),
    (
        "黄龙病",
        "ag-citrus",
        Detail::Contains {
            pointer: "/highlights/description",
            text: "<mark>黄龙病</mark>",
        },
    ),
    (
        "天河",
        "pb-branch",
        Detail::Field {
            pointer: "/region_name",
            value: "天河区",
        },
    ),
    (
        "钱文静",
        "fin-adbc",
        Detail::Field {
            pointer: "/recorded_on",
            value: "2021-10-20",
        },
    ),
];

/// The details of the document fixtures: PDF pages and PPTX slides are numbered, DOCX is not.
const DOCUMENT_EXTRACTS: &[(&str, &str, Detail)] = &[
    (
        "第二章",
        "doc-pdf",
        Detail::Page {
            page: Some(2),
            text: "农村基层党组织建设",
        },
    ),
    (
        "第二章",
        "doc-pptx",
        Detail::Page {
            page: Some(2),
            text: "农村基层党组织建设",
        },
    ),
    (
        "第二章",
        "doc-docx",
        Detail::Page {
            page: None,
            text: "农村基层党组织建设",
        },
    ),
    (
        "乡村振兴战略概述",
        "doc-pdf",
        Detail::Page {
            page: Some(1),
            text: "乡村振兴战略概述",
        },
    ),
    (
        "电子商务",
        "doc-pptx",
        Detail::Page {
            page: Some(3),
            text: "数字乡村与电子商务",
        },
    ),
];

/// The catalogue as created: lesson keys and ids both ways.
struct Catalogue {
    ids: HashMap<&'static str, String>,
    keys: HashMap<String, &'static str>,
}

impl Catalogue {
    fn id(&self, key: &str) -> &str {
        &self.ids[key]
    }

    /// The key of lesson `id`, or the id itself for a lesson not of the catalogue.
    fn key(&self, id: &str) -> String {
        self.keys
            .get(id)
            .map_or_else(|| id.to_owned(), |k| (*k).to_owned())
    }

    /// The keys of a search answer's hits, in order.
    fn hit_keys(&self, answer: &Value) -> Vec<String> {
        hits(answer).iter().map(|h| self.key(&hit_id(h))).collect()
    }
}

fn hits(answer: &Value) -> Vec<Value> {
    answer["hits"].as_array().cloned().unwrap_or_default()
}

fn hit_id(hit: &Value) -> String {
    hit["id"].as_str().unwrap_or_default().to_owned()
}

/// Creates a lesson from `l` with the operator token; its id.
async fn create(t: &TestApp, l: &Lesson) -> String {
    let mut body = json!({
        "title": l.title,
        "description": l.description,
        "kind": l.kind,
        "tags": l.tags,
        "recorded_on": l.recorded_on,
    });
    for (field, value) in [
        ("lecturer", l.lecturer),
        ("series", l.series),
        ("region_code", l.region),
    ] {
        if !value.is_empty() {
            body[field] = json!(value);
        }
    }
    let r = t.post("/api/v1/lessons").json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}: {}", l.key, r.text().await.unwrap());
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn publish(t: &TestApp, id: &str) {
    let r = t
        .post(&format!("/api/v1/lessons/{id}/publish"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "publish: {}", r.text().await.unwrap());
}

async fn withdraw(t: &TestApp, id: &str) {
    let r = t
        .post(&format!("/api/v1/lessons/{id}/withdraw"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "withdraw: {}", r.text().await.unwrap());
}

/// Creates and publishes the whole catalogue, uploading each lesson's assets before publication
/// when `with_assets`; a refused upload is recorded in `failures` rather than stopping the run.
/// Waits until the index has caught up.
async fn seed(t: &TestApp, with_assets: bool, failures: &mut Vec<String>) -> Catalogue {
    let assets = if with_assets { assets() } else { Vec::new() };
    let r = t
        .put("/api/v1/search/synonyms")
        .json(&json!({ "groups": SYNONYMS }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "synonyms: {}", r.text().await.unwrap());
    let mut ids = HashMap::new();
    let mut keys = HashMap::new();
    for l in CATALOGUE {
        let id = create(t, l).await;
        for (_, role, filename, data) in assets.iter().filter(|a| a.0 == l.key) {
            let r = t.upload(&id, role, filename, data.clone()).await;
            if r.status() != 201 {
                failures.push(format!(
                    "upload {filename} ({role}) to {}: {} {}",
                    l.key,
                    r.status(),
                    r.text().await.unwrap_or_default()
                ));
            }
        }
        publish(t, &id).await;
        keys.insert(id.clone(), l.key);
        ids.insert(l.key, id);
    }
    indexed(t).await;
    Catalogue { ids, keys }
}

/// `GET /api/v1/search` with `params`, anonymously or with `token`: the answer, or the status
/// and body of anything but a 200.
async fn search(
    t: &TestApp,
    params: &[(&str, &str)],
    token: Option<&str>,
) -> Result<Value, String> {
    let mut req = t.client.get(t.url("/api/v1/search")).query(params);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.map_err(|e| e.to_string())?;
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    if status != 200 {
        return Err(format!("HTTP {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))
}

/// An anonymous search that must succeed.
async fn anonymous(t: &TestApp, params: &[(&str, &str)]) -> Value {
    search(t, params, None)
        .await
        .unwrap_or_else(|e| panic!("{params:?}: {e}"))
}

fn describe(params: &[(&str, &str)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `case`; what is wrong with the answer, if anything.
async fn check_case(t: &TestApp, cat: &Catalogue, case: &Case) -> Option<String> {
    let mut params: Vec<(&str, &str)> = case.params.to_vec();
    params.push(("limit", "50"));
    let answer = match search(t, &params, None).await {
        Ok(a) => a,
        Err(e) => return Some(format!("{} [{}]: {e}", case.what, describe(case.params))),
    };
    let got = cat.hit_keys(&answer);
    let mut problems = Vec::new();
    if case.top == 0 && !got.is_empty() {
        problems.push("expected no hits".to_owned());
    }
    let first = &got[..got.len().min(case.top)];
    let missing: Vec<&str> = case
        .expect
        .iter()
        .copied()
        .filter(|k| !first.iter().any(|g| g == k))
        .collect();
    if !missing.is_empty() {
        problems.push(format!("missing from the first {}: {missing:?}", case.top));
    }
    let unwanted: Vec<&str> = case
        .never
        .iter()
        .copied()
        .filter(|k| got.iter().any(|g| g == k))
        .collect();
    if !unwanted.is_empty() {
        problems.push(format!("must not be found: {unwanted:?}"));
    }
    // Invariants of every anonymous answer.
    for h in hits(&answer) {
        if h["status"] != "published" {
            problems.push(format!("{} is {}", cat.key(&hit_id(&h)), h["status"]));
        }
        if h["cues"].as_array().is_some_and(|c| c.len() > 3) {
            problems.push(format!("{} has more than 3 cues", cat.key(&hit_id(&h))));
        }
    }
    let total = answer["total"].as_u64();
    if total.is_none_or(|n| (n as usize) < got.len()) {
        problems.push(format!("total {total:?} below the {} hits", got.len()));
    }
    (!problems.is_empty()).then(|| {
        format!(
            "{} [{}]: {}; returned (total {}): {got:?}",
            case.what,
            describe(case.params),
            problems.join("; "),
            answer["total"]
        )
    })
}

/// A snippet's text without its highlighting.
fn unmarked(snippet: &str) -> String {
    snippet.replace("<mark>", "").replace("</mark>", "")
}

/// Checks one `Detail` of the hit for lesson `key` in the answer to `q`.
async fn check_detail(
    t: &TestApp,
    cat: &Catalogue,
    q: &str,
    key: &str,
    detail: &Detail,
) -> Option<String> {
    let answer = match search(t, &[("q", q), ("limit", "50")], None).await {
        Ok(a) => a,
        Err(e) => return Some(format!("detail of {key} for q={q:?}: {e}")),
    };
    let Some(hit) = hits(&answer).into_iter().find(|h| hit_id(h) == cat.id(key)) else {
        return Some(format!(
            "detail of {key} for q={q:?}: not found; returned {:?}",
            cat.hit_keys(&answer)
        ));
    };
    let ok = match detail {
        Detail::Cue { start_ms, text } => {
            let c = &hit["cues"][0];
            c["start_ms"].as_u64() == Some(*start_ms)
                && c["text"]
                    .as_str()
                    .is_some_and(|s| unmarked(s).contains(text))
                && c["end_ms"].as_u64().is_some_and(|e| e > *start_ms)
                && c["asset_id"].is_string()
        }
        Detail::Page { page, text } => hit["pages"].as_array().is_some_and(|pages| {
            pages.iter().any(|p| {
                p["page"].as_u64() == *page
                    && (page.is_some() || p["page"].is_null())
                    && p["text"]
                        .as_str()
                        .is_some_and(|s| unmarked(s).contains(text))
                    && p["asset_id"].is_string()
            })
        }),
        Detail::Field { pointer, value } => hit.pointer(pointer) == Some(&json!(value)),
        Detail::Contains { pointer, text } => hit
            .pointer(pointer)
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains(text)),
    };
    (!ok).then(|| {
        let shown = json!({
            "cues": hit["cues"], "pages": hit["pages"], "highlights": hit["highlights"],
            "region_name": hit["region_name"], "recorded_on": hit["recorded_on"],
        });
        let want = match detail {
            Detail::Cue { start_ms, text } => format!("first cue at {start_ms} ms with {text:?}"),
            Detail::Page { page, text } => format!("page {page:?} with {text:?}"),
            Detail::Field { pointer, value } => format!("{pointer} = {value:?}"),
            Detail::Contains { pointer, text } => format!("{pointer} containing {text:?}"),
        };
        format!("detail of {key} for q={q:?}: expected {want}; got {shown}")
    })
}

#[tokio::test]
async fn the_relevance_table_finds_the_expected_lessons_first() {
    let t = TestApp::spawn().await;
    let mut failures = Vec::new();
    let cat = seed(&t, true, &mut failures).await;
    let cases: Vec<&Case> = CASES
        .iter()
        .chain(DOCUMENT_CASES)
        .chain(TYPED_CASES)
        .collect();
    assert!(cases.len() >= 60, "the suite keeps at least 60 queries");
    for case in &cases {
        failures.extend(check_case(&t, &cat, case).await);
    }
    let details: Vec<&(&str, &str, Detail)> = EXTRACTS.iter().chain(DOCUMENT_EXTRACTS).collect();
    for (q, key, detail) in &details {
        failures.extend(check_detail(&t, &cat, q, key, detail).await);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases and {} details failed:\n{}",
        failures.len(),
        cases.len(),
        details.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn withdrawal_removes_a_lesson_from_results_and_republication_brings_it_back() {
    let t = TestApp::spawn().await;
    let mut ids = HashMap::new();
    for key in ["ds-intro", "ds-yanan", "pb-branch"] {
        let l = CATALOGUE.iter().find(|l| l.key == key).unwrap();
        let id = create(&t, l).await;
        publish(&t, &id).await;
        ids.insert(key, id);
    }
    indexed(&t).await;
    let found = |v: &Value| -> Vec<String> { hits(v).iter().map(hit_id).collect() };
    let before = anonymous(&t, &[("q", "党史")]).await;
    assert!(found(&before).contains(&ids["ds-intro"]), "{before}");
    assert_eq!(before["total"], 2, "{before}");

    withdraw(&t, &ids["ds-intro"]).await;
    indexed(&t).await;
    let by: &[&[(&str, &str)]] = &[
        &[("q", "党史")],
        &[("q", "百年党史的光辉历程")],
        &[("q", "dangshi")],
        &[("q", "党史"), ("lecturer", "王建国")],
        &[("q", "党史"), ("region", "440000")],
    ];
    for params in by {
        let v = anonymous(&t, params).await;
        assert!(
            !found(&v).contains(&ids["ds-intro"]),
            "withdrawn, still found by {params:?}: {v}"
        );
    }
    let after = anonymous(&t, &[("q", "党史")]).await;
    assert_eq!(found(&after), vec![ids["ds-yanan"].clone()]);
    assert_eq!(after["total"], 1, "the total follows: {after}");

    publish(&t, &ids["ds-intro"]).await;
    indexed(&t).await;
    let again = anonymous(&t, &[("q", "党史")]).await;
    assert_eq!(
        found(&again)[0],
        ids["ds-intro"],
        "published again, and first again: {again}"
    );
    assert_eq!(again["total"], 2);

    // Suggestions follow too.
    let s = suggest(&t, "党史学习教育专题", None).await;
    assert!(
        s.iter().any(|(text, _)| text.contains("光辉历程")),
        "the title is suggested while published: {s:?}"
    );
    withdraw(&t, &ids["ds-intro"]).await;
    indexed(&t).await;
    let s = suggest(&t, "党史学习教育专题", None).await;
    assert!(
        s.iter().all(|(text, _)| !text.contains("光辉历程")),
        "a withdrawn title is not suggested: {s:?}"
    );
}

#[tokio::test]
async fn a_draft_never_reaches_an_anonymous_caller_but_the_operator_finds_it() {
    let t = TestApp::spawn().await;
    let published = {
        let l = CATALOGUE.iter().find(|l| l.key == "pb-branch").unwrap();
        let id = create(&t, l).await;
        publish(&t, &id).await;
        id
    };
    let draft = create(
        &t,
        &Lesson {
            key: "draft",
            title: "村级换届选举工作预案（内部讨论稿）",
            description: "基层党组织换届的时间安排与风险预判，未经审核。",
            kind: "document",
            tags: &["换届选举", "基层党建"],
            lecturer: "李卫东",
            series: "基层党建",
            region: "440106",
            recorded_on: "2024-01-05",
        },
    )
    .await;
    indexed(&t).await;
    let ids = |v: &Value| -> Vec<String> { hits(v).iter().map(hit_id).collect() };
    let anonymously_invisible = async |params: &[(&str, &str)]| {
        let v = anonymous(&t, params).await;
        assert!(
            !ids(&v).contains(&draft),
            "a draft reached an anonymous caller by {params:?}: {v}"
        );
        assert!(
            !v.to_string().contains("换届"),
            "nothing of the draft leaks (facets, highlights) by {params:?}: {v}"
        );
    };
    for params in [
        &[("q", "换届选举")][..],
        &[("q", "内部讨论稿")],
        &[("q", "huanjie")],
        &[("q", "基层党组织")],
        &[("q", "基层党组织"), ("tag", "基层党建")],
        &[("q", "李卫东"), ("series", "基层党建")],
        &[("q", "党组织"), ("region", "440106")],
        &[("q", "天河")],
    ] {
        anonymously_invisible(params).await;
    }
    let v = anonymous(&t, &[("q", "基层党组织")]).await;
    assert_eq!(ids(&v), vec![published.clone()]);
    assert_eq!(v["total"], 1, "the total counts only what may be read");

    // The operator may read drafts, so finds it (and the published lesson too).
    let v = search(&t, &[("q", "换届选举")], Some(&t.token))
        .await
        .unwrap();
    assert_eq!(ids(&v), vec![draft.clone()]);
    assert_eq!(v["hits"][0]["status"], "draft");
    let v = search(&t, &[("q", "基层党组织")], Some(&t.token))
        .await
        .unwrap();
    assert_eq!(v["total"], 2, "{v}");

    // Filters without a query, and suggestions.
    for params in [
        &[("tag", "换届选举")][..],
        &[("series", "基层党建")],
        &[("region", "440106")],
        &[("from", "2024-01-01")],
    ] {
        anonymously_invisible(params).await;
    }
    assert!(
        suggest(&t, "村级换届", None).await.is_empty(),
        "a draft's title is not suggested to anonymous callers"
    );
    let s = suggest(&t, "村级换届", Some(&t.token)).await;
    assert!(
        s.iter().any(|(text, _)| text.contains("村级换届选举")),
        "{s:?}"
    );
}

/// What the server answered to a hostile request: 200 with a search answer, or 400 with a
/// problem body; never anything else. Returns the status.
async fn survives(r: reqwest::Response, what: &str) -> u16 {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = r.text().await.unwrap_or_default();
    match status {
        200 => {
            let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                v["hits"].is_array() || v["suggestions"].is_array(),
                "{what}: {v}"
            );
        }
        // 414: a query so long that the request target passes the service's 8 KiB limit.
        400 | 414 => {
            assert_eq!(ct, "application/problem+json", "{what}: {body}");
            let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(v["status"], status, "{what}: {v}");
            assert!(
                v["title"].is_string() && v["code"].is_string(),
                "{what}: {v}"
            );
        }
        _ => panic!("{what}: HTTP {status}, expected 200, 400 or 414: {body}"),
    }
    status
}

#[tokio::test]
async fn hostile_queries_get_results_or_a_clear_400_never_a_500() {
    let t = TestApp::spawn().await;
    for key in ["ds-intro", "rv-strategy", "pb-ebranch"] {
        let l = CATALOGUE.iter().find(|l| l.key == key).unwrap();
        let id = create(&t, l).await;
        publish(&t, &id).await;
    }
    indexed(&t).await;
    let long_mixed: String = "党史学习教育 dangshi \"乡村振兴\" -e支部 "
        .chars()
        .cycle()
        .take(10_000)
        .collect();
    // 10,000 characters, a third of them Chinese: 37 KB percent-encoded. (10,000 Chinese
    // characters would be 90 KB, over the 64 KiB that the `http` crate allows in a URI, so no
    // ordinary client can send them.)
    let long_han: String = "党aa".chars().cycle().take(10_000).collect();
    let hostile: Vec<&str> = vec![
        long_mixed.as_str(),
        long_han.as_str(),
        "\"党史",
        "党史\"",
        "\"\"",
        "\"",
        "*",
        "党*",
        "-",
        "--",
        "-党史",
        "-\"党史\"",
        "!!!，。；",
        "\u{0}\u{7}",
        "\u{0}党史\u{1b}[31m",
        "AND OR NOT",
        "党史 AND 乡村",
        "title:党史",
        "tags:*",
        "(((",
        ")))党史",
        "~2",
        "党史~2",
        "党史^10",
        "[* TO *]",
        "🌾🚜🇨🇳",
        "党史🌾",
        "\\",
        "'; DROP TABLE lessons; --",
        "<script>alert(1)</script>",
        "%",
        "\u{200b}\u{feff}",
        "\u{3000}\u{3000}",
    ];
    let q_of = |q: &str| format!("q={:?}", q.chars().take(40).collect::<String>());
    for q in &hostile {
        let r = t
            .client
            .get(t.url("/api/v1/search"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        survives(r, &q_of(q)).await;
    }
    // Over the limit, and nothing searchable at all: a 400 naming `q`.
    for q in [
        long_mixed.as_str(),
        long_han.as_str(),
        "",
        "   ",
        "\u{0}\u{7}",
    ] {
        let r = t
            .client
            .get(t.url("/api/v1/search"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        let status = r.status();
        let p = crate::common::problem(r).await;
        // A query whose request target passes the service's 8 KiB limit is refused before the
        // search sees it.
        if status == 414 {
            assert!(q.len() > 8192 / 3, "414 for a short q: {p}");
            continue;
        }
        assert_eq!(status, 400, "q of {} characters", q.chars().count());
        assert!(
            p["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e["field"] == "q")),
            "{p}"
        );
    }
    // Bytes that are not UTF-8 or not percent-encoding, written into the URL by hand.
    for raw in [
        "q=%FF",
        "q=%C3%28",
        "q=%ED%A0%80",
        "q=%E5%85",
        "q=%",
        "q=%zz",
    ] {
        let r = t
            .client
            .get(format!("{}?{raw}", t.url("/api/v1/search")))
            .send()
            .await
            .unwrap();
        survives(r, raw).await;
    }
    // The markup of a query never comes back unescaped.
    let v = anonymous(&t, &[("q", "<script>党史</script>")]).await;
    assert!(!v.to_string().contains("<script>"), "{v}");
    // Suggestions take the same abuse.
    for q in &hostile {
        let r = t
            .client
            .get(t.url("/api/v1/search/suggest"))
            .query(&[("q", q)])
            .send()
            .await
            .unwrap();
        survives(r, &format!("suggest {}", q_of(q))).await;
    }
    let r = t
        .client
        .get(format!("{}?q=%FF", t.url("/api/v1/search/suggest")))
        .send()
        .await
        .unwrap();
    survives(r, "suggest q=%FF").await;
}

#[tokio::test]
async fn invalid_parameters_are_a_400_naming_the_field() {
    let t = TestApp::spawn().await;
    let long_q = "党".repeat(201);
    let long_tag = "标".repeat(101);
    let mut failures = Vec::new();
    for (params, field) in [
        (vec![], "q"),
        (vec![("q", "")], "q"),
        (vec![("q", long_q.as_str())], "q"),
        (vec![("q", "党史"), ("kind", "film")], "kind"),
        (vec![("q", "党史"), ("region", "44")], "region"),
        (vec![("q", "党史"), ("region", "990000")], "region"),
        (vec![("q", "党史"), ("limit", "0")], "limit"),
        (vec![("q", "党史"), ("limit", "101")], "limit"),
        (vec![("q", "党史"), ("offset", "1001")], "offset"),
        (vec![("q", "党史"), ("from", "2021-02-30")], "from"),
        (vec![("q", "党史"), ("to", "2021/06/01")], "to"),
        (vec![("q", "党史"), ("sort", "oldest")], "sort"),
        (vec![("q", "党史"), ("tag", long_tag.as_str())], "tag"),
    ] {
        let r = t
            .client
            .get(t.url("/api/v1/search"))
            .query(&params)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let ct = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body: Value = r.json().await.unwrap_or_default();
        let named = body["errors"].as_array().is_some_and(|e| {
            e.iter()
                .any(|e| e["field"] == field && e["message"].is_string())
        });
        if status != 400 || ct != "application/problem+json" || !named {
            let shown: Vec<(&str, String)> = params
                .iter()
                .map(|(k, v)| (*k, v.chars().take(12).collect()))
                .collect();
            failures.push(format!(
                "{shown:?}: expected a 400 problem naming {field:?}; got {status} {ct}: {body}"
            ));
        }
    }
    // Values that do not parse as numbers at all are a 400 too (not necessarily naming them).
    for params in [
        [("q", "党史"), ("limit", "ten")],
        [("q", "党史"), ("offset", "-1")],
    ] {
        let r = t
            .client
            .get(t.url("/api/v1/search"))
            .query(&params)
            .send()
            .await
            .unwrap();
        if r.status() != 400 {
            failures.push(format!("{params:?}: {}", r.status()));
        }
    }
    // The bounds themselves are accepted.
    let max_q = "党".repeat(200);
    for params in [
        [("q", "党史"), ("limit", "1")],
        [("q", "党史"), ("limit", "100")],
        [("q", "党史"), ("offset", "1000")],
        [("q", max_q.as_str()), ("offset", "0")],
    ] {
        if let Err(e) = search(&t, &params, None).await {
            failures.push(format!("{:?}: {e}", &params[1]));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The catalogue lessons in the subtree of region prefix `prefix`.
fn in_region(prefix: &str) -> Vec<&'static Lesson> {
    CATALOGUE
        .iter()
        .filter(|l| l.region.starts_with(prefix))
        .collect()
}

#[tokio::test]
async fn pages_of_results_are_disjoint_and_together_equal_one_bigger_page() {
    let t = TestApp::spawn().await;
    let cat = seed(&t, false, &mut Vec::new()).await;
    let guangdong = in_region("44").len();
    assert!(guangdong >= 20, "the catalogue has enough to page through");
    for base in [
        vec![("region", "440000")],
        vec![("region", "440000"), ("sort", "newest")],
        vec![("q", "乡村")],
    ] {
        let with = |extra: Vec<(&'static str, String)>| {
            let mut p: Vec<(&str, String)> =
                base.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
            p.extend(extra);
            p
        };
        let big = {
            let p = with(vec![("limit", "21".into())]);
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            anonymous(&t, &p).await
        };
        let total = big["total"].as_u64().unwrap() as usize;
        let all = cat.hit_keys(&big);
        assert_eq!(all.len(), total.min(21), "{base:?}: {big}");
        let mut pages = Vec::new();
        for offset in [0, 7, 14] {
            let p = with(vec![("limit", "7".into()), ("offset", offset.to_string())]);
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let v = anonymous(&t, &p).await;
            assert_eq!(
                v["total"], total,
                "{base:?}: every page tells the same total"
            );
            assert_eq!(v["offset"], offset, "{base:?}");
            assert_eq!(v["limit"], 7, "{base:?}");
            pages.push(cat.hit_keys(&v));
        }
        let joined: Vec<String> = pages.concat();
        let mut unique = joined.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            joined.len(),
            "{base:?}: pages overlap: {pages:?}"
        );
        assert_eq!(
            joined, all,
            "{base:?}: the pages are the bigger page cut up"
        );
        // Past the end: no hits, the same total.
        let p = with(vec![("offset", "1000".into())]);
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let v = anonymous(&t, &p).await;
        assert_eq!(hits(&v).len(), 0);
        assert_eq!(v["total"], total);
    }
    let v = anonymous(&t, &[("region", "440000"), ("limit", "100")]).await;
    assert_eq!(v["total"], guangdong, "the province's whole subtree");
}

#[tokio::test]
async fn sort_newest_orders_by_date_descending() {
    let t = TestApp::spawn().await;
    let cat = seed(&t, false, &mut Vec::new()).await;
    let date_of = |key: &str| {
        CATALOGUE
            .iter()
            .find(|l| l.key == key)
            .map(|l| l.recorded_on)
    };
    for params in [
        vec![("kind", "video"), ("sort", "newest"), ("limit", "100")],
        vec![("q", "乡村振兴"), ("sort", "newest"), ("limit", "100")],
        vec![("q", "农"), ("sort", "newest"), ("limit", "100")],
    ] {
        let v = anonymous(&t, &params).await;
        let keys = cat.hit_keys(&v);
        assert!(keys.len() >= 5, "{params:?}: {keys:?}");
        let dates: Vec<&str> = keys.iter().map(|k| date_of(k).unwrap()).collect();
        for h in hits(&v) {
            assert_eq!(
                h["recorded_on"].as_str(),
                date_of(&cat.key(&hit_id(&h))),
                "{h}"
            );
        }
        let mut sorted = dates.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(dates, sorted, "{params:?}: newest first: {keys:?}");
        // The same lessons as by relevance, only in another order.
        let relevance: Vec<(&str, &str)> = params
            .iter()
            .copied()
            .filter(|(k, _)| *k != "sort")
            .collect();
        let mut a = cat.hit_keys(&anonymous(&t, &relevance).await);
        let mut b = keys.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b, "{params:?}");
    }
    let videos = CATALOGUE.iter().filter(|l| l.kind == "video").count();
    let v = anonymous(
        &t,
        &[("kind", "video"), ("sort", "newest"), ("limit", "100")],
    )
    .await;
    assert_eq!(v["total"], videos);
}

/// The facet `name` of an answer as value → count.
fn facet(answer: &Value, name: &str) -> BTreeMap<String, u64> {
    answer["facets"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no facet {name}: {answer}"))
        .iter()
        .map(|f| {
            (
                f["value"].as_str().unwrap().to_owned(),
                f["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn facet_counts_add_up_to_the_filtered_totals() {
    let t = TestApp::spawn().await;
    seed(&t, false, &mut Vec::new()).await;

    // An exactly known set: the province of Guangdong.
    let set = in_region("44");
    let v = anonymous(&t, &[("region", "440000")]).await;
    assert_eq!(v["total"], set.len());
    let mut kinds = BTreeMap::new();
    let mut years = BTreeMap::new();
    for l in &set {
        *kinds.entry(l.kind.to_owned()).or_insert(0) += 1;
        *years.entry(l.recorded_on[..4].to_owned()).or_insert(0) += 1;
    }
    assert_eq!(facet(&v, "kind"), kinds, "{v}");
    assert_eq!(facet(&v, "year"), years, "{v}");
    for (tag, count) in facet(&v, "tag") {
        let expected = set
            .iter()
            .filter(|l| l.tags.contains(&tag.as_str()))
            .count() as u64;
        assert_eq!(count, expected, "tag {tag}");
    }
    for (series, count) in facet(&v, "series") {
        let expected = set.iter().filter(|l| l.series == series).count() as u64;
        assert_eq!(count, expected, "series {series}");
    }
    let regions = v["facets"]["region"].as_array().unwrap();
    assert!(!regions.is_empty(), "{v}");
    for r in regions {
        let code = r["value"].as_str().unwrap();
        let prefix = code.trim_end_matches("00");
        let expected = set.iter().filter(|l| l.region.starts_with(prefix)).count() as u64;
        assert_eq!(r["count"], expected, "region {r}");
        let name = match code {
            "440000" => Some("广东省"),
            "440100" => Some("广州市"),
            "440106" => Some("天河区"),
            "440118" => Some("增城区"),
            "445100" => Some("潮州市"),
            _ => None,
        };
        if let Some(name) = name {
            assert_eq!(r["name"], name, "{r}");
        }
    }

    // A search, then the same search narrowed by kind: the other facets follow the filter.
    for params in [
        vec![("q", "乡村振兴")],
        vec![("q", "农"), ("limit", "1")],
        vec![("q", "农"), ("kind", "video")],
        vec![("q", "党"), ("region", "440100")],
    ] {
        let v = anonymous(&t, &params).await;
        let total = v["total"].as_u64().unwrap();
        assert!(total > 0, "{params:?}");
        let sum = |name| facet(&v, name).values().sum::<u64>();
        assert_eq!(sum("year"), total, "{params:?}: year facet vs total: {v}");
        if !params.iter().any(|(k, _)| *k == "kind") {
            assert_eq!(sum("kind"), total, "{params:?}: kind facet vs total: {v}");
        }
    }
    let all_farm = anonymous(&t, &[("q", "农")]).await;
    let farm_videos = anonymous(&t, &[("q", "农"), ("kind", "video")]).await;
    assert_eq!(
        facet(&all_farm, "kind").get("video").copied(),
        farm_videos["total"].as_u64(),
        "the kind facet predicts the filtered total"
    );
}

/// The suggestions for `q`, as (text, source).
async fn suggest(t: &TestApp, q: &str, token: Option<&str>) -> Vec<(String, String)> {
    let mut req = t
        .client
        .get(t.url("/api/v1/search/suggest"))
        .query(&[("q", q)]);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 200, "suggest {q:?}");
    let v: Value = r.json().await.unwrap();
    let list = v["suggestions"].as_array().unwrap_or_else(|| panic!("{v}"));
    assert!(list.len() <= 10, "at most 10 suggestions: {v}");
    list.iter()
        .map(|s| {
            let source = s["source"].as_str().unwrap().to_owned();
            assert!(
                ["title", "tag", "lecturer", "series"].contains(&source.as_str()),
                "{s}"
            );
            (s["text"].as_str().unwrap().to_owned(), source)
        })
        .collect()
}

#[tokio::test]
async fn suggestions_complete_prefixes_in_characters_and_pinyin() {
    let t = TestApp::spawn().await;
    seed(&t, false, &mut Vec::new()).await;
    let has = |s: &[(String, String)], text: &str, source: &str| {
        s.iter().any(|(t, src)| t == text && src == source)
    };

    let s = suggest(&t, "党史", None).await;
    assert!(
        has(&s, "党史学习教育", "tag") || has(&s, "党史学习教育", "series"),
        "{s:?}"
    );
    assert!(
        s.iter().all(|(text, _)| text.starts_with("党史")),
        "by prefix: {s:?}"
    );
    let s = suggest(&t, "dangs", None).await;
    assert!(
        s.iter().any(|(text, _)| text.starts_with("党史")),
        "pinyin prefix: {s:?}"
    );
    let s = suggest(&t, "dsxx", None).await;
    assert!(
        s.iter().any(|(text, _)| text == "党史学习教育"),
        "initials: {s:?}"
    );
    let s = suggest(&t, "钱", None).await;
    assert!(has(&s, "钱文静", "lecturer"), "{s:?}");
    let s = suggest(&t, "果树修", None).await;
    assert!(has(&s, "果树修剪技术要点", "title"), "{s:?}");
    let s = suggest(&t, "金融服务", None).await;
    assert!(has(&s, "金融服务乡村振兴", "series"), "{s:?}");
    // Many candidates (titles, tags and series begin with 乡村): still at most 10.
    let s = suggest(&t, "乡村", None).await;
    assert!(!s.is_empty());
    let mut texts: Vec<&String> = s.iter().map(|(t, _)| t).collect();
    texts.sort();
    texts.dedup();
    assert_eq!(texts.len(), s.len(), "no suggestion twice: {s:?}");
    assert!(suggest(&t, "量子", None).await.is_empty());
}

#[tokio::test]
async fn a_mistyped_word_is_corrected_and_says_so_but_never_towards_what_the_caller_cannot_read() {
    let t = TestApp::spawn().await;
    let mut failures = Vec::new();
    let cat = seed(&t, false, &mut failures).await;
    assert!(failures.is_empty(), "{failures:?}");
    // A slip of a key: the answer is the corrected query's, and says which.
    let a = anonymous(&t, &[("q", "xiangcnu")]).await;
    assert_eq!(a["corrected"], "xiangcun", "{a:#}");
    assert!(cat.hit_keys(&a).contains(&"rv-talent".to_owned()));
    // As typed right, or with a fuzzy spelling that matches: nothing is corrected.
    for q in ["xiangcun", "xiancun", "乡村"] {
        let a = anonymous(&t, &[("q", q)]).await;
        assert!(a.get("corrected").is_none(), "{q}: {a:#}");
        assert!(a["total"].as_u64().unwrap() > 0, "{q}");
    }
    // Nothing near: nothing found, nothing corrected; nor for three letters.
    for q in ["qqqqzzz", "xqz"] {
        let a = anonymous(&t, &[("q", q)]).await;
        assert_eq!(a["total"], 0, "{q}");
        assert!(a.get("corrected").is_none(), "{q}: {a:#}");
    }
    // Only the first page is corrected: a later page of nothing stays nothing.
    let a = anonymous(&t, &[("q", "xiangcnu"), ("offset", "20")]).await;
    assert!(a.get("corrected").is_none(), "{a:#}");
    // A draft's words never become an anonymous caller's correction; its staff get it.
    let draft = t
        .draft(json!({ "title": "秘密项目筹备", "kind": "video" }))
        .await;
    indexed(&t).await;
    let a = anonymous(&t, &[("q", "mimixiangmv")]).await;
    assert_eq!(a["total"], 0, "{a:#}");
    assert!(a.get("corrected").is_none(), "{a:#}");
    let op = search(&t, &[("q", "mimixiangmv")], Some(&t.token))
        .await
        .unwrap();
    assert_eq!(op["corrected"], "mimixiangmu", "{op:#}");
    assert_eq!(hit_id(&hits(&op)[0]), draft);
    // The members' page says it too, with a link to the corrected search.
    let page = t
        .client
        .get(t.url("/search?q=xiangcnu"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("没有找到与“xiangcnu”相符的结果"), "{page}");
    assert!(page.contains("以下是“xiangcun”的结果"), "{page}");
    assert!(
        page.contains("href=\"&#x2f;search?q=xiangcun\"")
            || page.contains("href=\"/search?q=xiangcun\""),
        "{page}"
    );
}
